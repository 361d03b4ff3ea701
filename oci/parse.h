/* Internal to oci/: the section parsers config.c, process.c, linux.c and resources.c share,
 * the helpers they build on, and the semantic validator (validate.c). */
#pragma once

#include "oci/config.h"
#include "oci/json.h"

/* Parse one element of an array into *item (zeroed beforehand). */
typedef int (*oci_elem_fn)(const struct json_node *n, const struct json_path *p, void *item,
			   struct husk_err **err);
/* Read the array member `key` of obj into a calloc'd vector of *n items of `size` bytes. *n
 * is set before the elements are parsed, so a free function can clean up a partial vector. */
int oci_read_array(const struct json_node *obj, const struct json_path *p, const char *key,
		   size_t size, void **items, size_t *n, oci_elem_fn fn, struct husk_err **err);

/* Optional numbers into struct oci_u64 / oci_i64 (->set when present). */
int oci_read_ou64(const struct json_node *obj, const struct json_path *p, const char *key,
		  uint64_t max, struct oci_u64 *out, struct husk_err **err);
int oci_read_oi64(const struct json_node *obj, const struct json_path *p, const char *key,
		  struct oci_i64 *out, struct husk_err **err);
int oci_read_u32(const struct json_node *obj, const struct json_path *p, const char *key,
		 uint32_t *out, struct husk_err **err);
/* An object of strings, in document order. */
int oci_read_map(const struct json_node *obj, const struct json_path *p, const char *key,
		 struct oci_map *out, struct husk_err **err);
void oci_map_clear(struct oci_map *m);
/* A LinuxIDMapping array (linux.uidMappings, mounts[].uidMappings). */
int oci_read_idmaps(const struct json_node *obj, const struct json_path *p, const char *key,
		    struct oci_idmap **out, size_t *n, struct husk_err **err);

int oci_parse_process(const struct json_node *n, const struct json_path *p, struct oci_process *out,
		      struct husk_err **err);
void oci_process_clear(struct oci_process *p);
int oci_parse_linux(const struct json_node *n, const struct json_path *p, struct oci_linux *out,
		    struct husk_err **err);
void oci_linux_clear(struct oci_linux *l);
int oci_parse_resources(const struct json_node *n, const struct json_path *p,
			struct oci_resources *out, struct husk_err **err);
void oci_resources_clear(struct oci_resources *r);

/* Semantic checks over parsed structs; paths as above. */
int oci_validate_config(struct oci_config *cfg, struct husk_err **err);
int oci_validate_process(struct oci_process *proc, const struct json_path *p,
			 struct husk_err **err);
int oci_validate_resources(const struct oci_resources *r, const struct json_path *p,
			   struct husk_err **err);
