/* JSON for husk: a read-only tree with typed readers whose errors name the JSON path
 * ("linux.namespaces[2].type: expected string"), and a small generator. json.c is the only
 * file that includes yajl; nothing here exposes it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* ---- reading ---- */

struct json_doc;  /* a parsed document; owns every node */
struct json_node; /* one value inside a json_doc, valid while the doc lives */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

/* Where a value sits, as a linked list on the caller's stack: key != NULL for an object
 * member, else the array element `index`. NULL is the document root. */
struct json_path {
	const struct json_path *up;
	const char *key;
	size_t index;
};
#define JSON_KEY(parent, k) (&(const struct json_path){.up = (parent), .key = (k)})
#define JSON_IDX(parent, i) (&(const struct json_path){.up = (parent), .index = (i)})

/* "linux.namespaces[2].type"; keys that are not plain identifiers are quoted
 * (`linux.sysctl["net.ipv4.ip_forward"]`). "" for the root. Caller frees. */
char *json_path_str(const struct json_path *p);
/* Set *err to "PATH: message" (just "message" at the root); returns -EINVAL. */
int json_err(struct husk_err **err, const struct json_path *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parse buf[0..len). Rejects invalid JSON, NUL bytes, trailing data and nesting deeper
 * than JSON_MAX_DEPTH, with "invalid JSON: ..." (-EINVAL). */
#define JSON_MAX_DEPTH 200
int json_parse(const char *buf, size_t len, struct json_doc **out, struct husk_err **err);
const struct json_node *json_doc_root(const struct json_doc *d);
void json_doc_free(struct json_doc *d);
void json_doc_freep(struct json_doc **d);
#define cleanup_json_doc __attribute__((cleanup(json_doc_freep)))

enum json_type json_type(const struct json_node *n);
/* Member `key` of an object, NULL when absent (or when obj is not an object). */
const struct json_node *json_get(const struct json_node *obj, const char *key);
/* Elements of an array or members of an object; 0 for anything else. */
size_t json_len(const struct json_node *n);
const struct json_node *json_elem(const struct json_node *arr, size_t i);
/* Key of member i of an object; its value in *val. */
const char *json_member(const struct json_node *obj, size_t i, const struct json_node **val);

/* Node readers: `p` is the node's own path. Return 0, or -EINVAL with *err naming p.
 * Strings are copied (caller frees). Integers reject fractions, exponents and values
 * outside [min, max]; unsigned readers reject negatives. */
int json_as_str(const struct json_node *n, const struct json_path *p, char **out,
		struct husk_err **err);
int json_as_bool(const struct json_node *n, const struct json_path *p, bool *out,
		 struct husk_err **err);
int json_as_i64(const struct json_node *n, const struct json_path *p, int64_t min, int64_t max,
		int64_t *out, struct husk_err **err);
int json_as_u64(const struct json_node *n, const struct json_path *p, uint64_t max, uint64_t *out,
		struct husk_err **err);
/* Check that n is an object / an array. */
int json_as_obj(const struct json_node *n, const struct json_path *p, struct husk_err **err);
int json_as_arr(const struct json_node *n, const struct json_path *p, struct husk_err **err);
/* An array of strings as a NULL-terminated vector (caller frees with strv_free). */
int json_as_strv(const struct json_node *n, const struct json_path *p, char ***out,
		 struct husk_err **err);

/* Member readers: look `key` up in `obj` (whose path is p). Return 1 when present and
 * read, 0 when absent or JSON null (the output is left alone: the spec's optional fields,
 * and Go's decoder, treat null as absent), or -EINVAL. */
int json_read_str(const struct json_node *obj, const struct json_path *p, const char *key,
		  char **out, struct husk_err **err);
int json_read_bool(const struct json_node *obj, const struct json_path *p, const char *key,
		   bool *out, struct husk_err **err);
int json_read_i64(const struct json_node *obj, const struct json_path *p, const char *key,
		  int64_t min, int64_t max, int64_t *out, struct husk_err **err);
int json_read_u64(const struct json_node *obj, const struct json_path *p, const char *key,
		  uint64_t max, uint64_t *out, struct husk_err **err);
int json_read_strv(const struct json_node *obj, const struct json_path *p, const char *key,
		   char ***out, struct husk_err **err);
/* The member itself, checked to be an object / an array (*out NULL when absent). */
int json_read_obj(const struct json_node *obj, const struct json_path *p, const char *key,
		  const struct json_node **out, struct husk_err **err);
int json_read_arr(const struct json_node *obj, const struct json_path *p, const char *key,
		  const struct json_node **out, struct husk_err **err);
/* "PATH.key: required field missing"; returns -EINVAL. */
int json_missing(struct husk_err **err, const struct json_path *p, const char *key);
/* Required members: like json_read_str/strv, but absent (or null) is json_missing().
 * Return 0 or -EINVAL. */
int json_need_str(const struct json_node *obj, const struct json_path *p, const char *key,
		  char **out, struct husk_err **err);
int json_need_strv(const struct json_node *obj, const struct json_path *p, const char *key,
		   char ***out, struct husk_err **err);

/* ---- writing ---- */

/* A generator: calls append to a buffer; misuse (a value where a key is due, unbalanced
 * close) is remembered and makes json_gen_buf() return NULL, so callers check once. */
struct json_gen;

/* indent NULL: compact. "\t" or "  ": pretty, one member per line, empty arrays and
 * objects as [] and {} (like Go's MarshalIndent). */
struct json_gen *json_gen_new(const char *indent);
void json_gen_free(struct json_gen *g);
void json_gen_freep(struct json_gen **g);
#define cleanup_json_gen __attribute__((cleanup(json_gen_freep)))

void json_gen_map_open(struct json_gen *g);
void json_gen_map_close(struct json_gen *g);
void json_gen_array_open(struct json_gen *g);
void json_gen_array_close(struct json_gen *g);
void json_gen_key(struct json_gen *g, const char *key);
void json_gen_str(struct json_gen *g, const char *s); /* NULL writes null */
void json_gen_int64(struct json_gen *g, int64_t v);
void json_gen_uint64(struct json_gen *g, uint64_t v);
void json_gen_bool(struct json_gen *g, bool v);
void json_gen_null(struct json_gen *g);
/* An array of strings from a NULL-terminated vector (NULL writes []). */
void json_gen_strv(struct json_gen *g, const char *const *v);

/* key + value in one call, for object members */
void json_gen_kstr(struct json_gen *g, const char *key, const char *s);
void json_gen_kint64(struct json_gen *g, const char *key, int64_t v);
void json_gen_kuint64(struct json_gen *g, const char *key, uint64_t v);
void json_gen_kbool(struct json_gen *g, const char *key, bool v);

/* The document: *len bytes without a trailing newline (not NUL-terminated); NULL after
 * misuse or while a container is still open. Valid until the next call on g. */
const char *json_gen_buf(struct json_gen *g, size_t *len);
/* The same as a malloc'd NUL-terminated copy (caller frees); NULL after misuse. */
char *json_gen_dup(struct json_gen *g, size_t *len);
