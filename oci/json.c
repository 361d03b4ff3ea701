/* JSON through yajl (the only file that includes it): a yajl_tree reader with typed,
 * path-aware accessors, and a yajl_gen writer with Go-like pretty output. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/util.h"
#include "oci/json.h"

/* A json_node is a yajl_val in disguise, so callers never see yajl. */
#define Y(n) ((yajl_val)(n))
#define N(v) ((const struct json_node *)(v))

struct json_doc {
	yajl_val root;
};

/* ---- paths and errors ---- */

static bool is_ident(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static void path_print(FILE *f, const struct json_path *p)
{
	if (!p)
		return;
	path_print(f, p->up);
	if (!p->key)
		fprintf(f, "[%zu]", p->index);
	else if (!is_ident(p->key))
		fprintf(f, "[\"%s\"]", p->key);
	else
		fprintf(f, "%s%s", p->up ? "." : "", p->key);
}

char *json_path_str(const struct json_path *p)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		abort();
	path_print(f, p);
	if (fclose(f) != 0 || !s)
		abort();
	return s;
}

int json_err(struct husk_err **err, const struct json_path *p, const char *fmt, ...)
{
	char *path, *msg;
	va_list ap;
	int r;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	path = json_path_str(p);
	if (*path)
		r = husk_err_msg(err, EINVAL, "%s: %s", path, msg);
	else
		r = husk_err_msg(err, EINVAL, "%s", msg);
	free(path);
	free(msg);
	return r;
}

int json_missing(struct husk_err **err, const struct json_path *p, const char *key)
{
	return json_err(err, JSON_KEY(p, key), "required field missing");
}

/* ---- parsing ---- */

/* yajl_tree keeps its own stack, but freeing the tree recurses: bound the nesting first.
 * yajl_tree_parse() also accepts comments, which this count would read as code (a `"` in
 * one hides the brackets after it): refuse them, they are not JSON. */
static int check_depth(const char *buf, size_t len, struct husk_err **err)
{
	bool in_str = false, esc = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\0')
			return husk_err_msg(err, EINVAL, "invalid JSON: NUL byte at offset %zu", i);
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '/') {
			return husk_err_msg(err, EINVAL, "invalid JSON: comment at offset %zu", i);
		} else if ((c == '[' || c == '{') && ++depth > JSON_MAX_DEPTH) {
			return husk_err_msg(err, EINVAL, "invalid JSON: nested deeper than %d",
					    JSON_MAX_DEPTH);
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 0;
}

/* yajl's message is "what\n  context\n  (right here) ------^\n": keep what and context. */
static int parse_error(struct husk_err **err, char *ebuf)
{
	char *nl = strchr(ebuf, '\n'), *ctx = NULL;

	if (nl) {
		*nl = '\0';
		ctx = nl + 1;
		ctx += strspn(ctx, " \t");
		nl = strchr(ctx, '\n');
		if (nl)
			*nl = '\0';
	}
	if (ctx && *ctx)
		return husk_err_msg(err, EINVAL, "invalid JSON: %s near `%s`", ebuf, ctx);
	return husk_err_msg(err, EINVAL, "invalid JSON: %s", ebuf[0] ? ebuf : "parse error");
}

int json_parse(const char *buf, size_t len, struct json_doc **out, struct husk_err **err)
{
	char ebuf[512] = "";
	char *copy;
	yajl_val v;
	int r;

	r = check_depth(buf, len, err);
	if (r < 0)
		return r;
	copy = xstrndup(buf, len); /* yajl_tree wants a NUL-terminated string */
	v = yajl_tree_parse(copy, ebuf, sizeof(ebuf));
	free(copy);
	if (!v)
		return parse_error(err, ebuf);
	*out = xmalloc(sizeof(**out));
	(*out)->root = v;
	return 0;
}

const struct json_node *json_doc_root(const struct json_doc *d)
{
	return N(d->root);
}

void json_doc_free(struct json_doc *d)
{
	if (!d)
		return;
	yajl_tree_free(d->root);
	free(d);
}

void json_doc_freep(struct json_doc **d)
{
	json_doc_free(*d);
	*d = NULL;
}

/* ---- navigation ---- */

enum json_type json_type(const struct json_node *n)
{
	switch (Y(n)->type) {
	case yajl_t_string:
		return JSON_STRING;
	case yajl_t_number:
		return JSON_NUMBER;
	case yajl_t_object:
		return JSON_OBJECT;
	case yajl_t_array:
		return JSON_ARRAY;
	case yajl_t_true:
	case yajl_t_false:
		return JSON_BOOL;
	default:
		return JSON_NULL;
	}
}

static const char *type_name(const struct json_node *n)
{
	static const char *const names[] = {
	    [JSON_NULL] = "null",     [JSON_BOOL] = "boolean", [JSON_NUMBER] = "number",
	    [JSON_STRING] = "string", [JSON_ARRAY] = "array",  [JSON_OBJECT] = "object",
	};

	return names[json_type(n)];
}

const struct json_node *json_get(const struct json_node *obj, const char *key)
{
	yajl_val o = Y(obj);

	if (!o || o->type != yajl_t_object)
		return NULL;
	for (size_t i = 0; i < o->u.object.len; i++)
		if (strcmp(o->u.object.keys[i], key) == 0)
			return N(o->u.object.values[i]);
	return NULL;
}

size_t json_len(const struct json_node *n)
{
	if (n && Y(n)->type == yajl_t_array)
		return Y(n)->u.array.len;
	if (n && Y(n)->type == yajl_t_object)
		return Y(n)->u.object.len;
	return 0;
}

const struct json_node *json_elem(const struct json_node *arr, size_t i)
{
	return N(Y(arr)->u.array.values[i]);
}

const char *json_member(const struct json_node *obj, size_t i, const struct json_node **val)
{
	*val = N(Y(obj)->u.object.values[i]);
	return Y(obj)->u.object.keys[i];
}

/* ---- typed node readers ---- */

static int expected(const struct json_node *n, const struct json_path *p, const char *what,
		    struct husk_err **err)
{
	return json_err(err, p, "expected %s, got %s", what, type_name(n));
}

int json_as_str(const struct json_node *n, const struct json_path *p, char **out,
		struct husk_err **err)
{
	if (Y(n)->type != yajl_t_string)
		return expected(n, p, "string", err);
	*out = xstrdup(Y(n)->u.string);
	return 0;
}

int json_as_bool(const struct json_node *n, const struct json_path *p, bool *out,
		 struct husk_err **err)
{
	if (Y(n)->type != yajl_t_true && Y(n)->type != yajl_t_false)
		return expected(n, p, "boolean", err);
	*out = Y(n)->type == yajl_t_true;
	return 0;
}

/* The number's text, checked to be an integer (Go's decoder rejects 1.0 for an int too). */
static const char *int_text(const struct json_node *n, const struct json_path *p,
			    struct husk_err **err)
{
	const char *r;

	if (Y(n)->type != yajl_t_number) {
		expected(n, p, "integer", err);
		return NULL;
	}
	r = Y(n)->u.number.r;
	if (strpbrk(r, ".eE")) {
		json_err(err, p, "expected integer, got %s", r);
		return NULL;
	}
	return r;
}

int json_as_i64(const struct json_node *n, const struct json_path *p, int64_t min, int64_t max,
		int64_t *out, struct husk_err **err)
{
	const char *r = int_text(n, p, err);
	long long v;

	if (!r)
		return -EINVAL;
	errno = 0;
	v = strtoll(r, NULL, 10);
	if (errno == ERANGE || v < min || v > max)
		return json_err(err, p, "%s out of range [%" PRId64 ", %" PRId64 "]", r, min, max);
	*out = v;
	return 0;
}

int json_as_u64(const struct json_node *n, const struct json_path *p, uint64_t max, uint64_t *out,
		struct husk_err **err)
{
	const char *r = int_text(n, p, err);
	unsigned long long v;

	if (!r)
		return -EINVAL;
	if (r[0] == '-')
		return json_err(err, p, "must not be negative, got %s", r);
	errno = 0;
	v = strtoull(r, NULL, 10);
	if (errno == ERANGE || v > max)
		return json_err(err, p, "%s out of range [0, %" PRIu64 "]", r, max);
	*out = v;
	return 0;
}

int json_as_obj(const struct json_node *n, const struct json_path *p, struct husk_err **err)
{
	return Y(n)->type == yajl_t_object ? 0 : expected(n, p, "object", err);
}

int json_as_arr(const struct json_node *n, const struct json_path *p, struct husk_err **err)
{
	return Y(n)->type == yajl_t_array ? 0 : expected(n, p, "array", err);
}

int json_as_strv(const struct json_node *n, const struct json_path *p, char ***out,
		 struct husk_err **err)
{
	size_t len;
	char **v;

	if (Y(n)->type != yajl_t_array)
		return expected(n, p, "array of strings", err);
	len = Y(n)->u.array.len;
	v = xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		int r = json_as_str(json_elem(n, i), JSON_IDX(p, i), &v[i], err);

		if (r < 0) {
			strv_free(v);
			return r;
		}
	}
	*out = v;
	return 0;
}

/* ---- member readers ---- */

/* The member, or NULL when absent or null. */
static const struct json_node *member(const struct json_node *obj, const char *key)
{
	const struct json_node *n = json_get(obj, key);

	return n && Y(n)->type != yajl_t_null ? n : NULL;
}

#define READ_MEMBER(call)                                                                          \
	do {                                                                                       \
		const struct json_node *n = member(obj, key);                                      \
		int r;                                                                             \
		if (!n)                                                                            \
			return 0;                                                                  \
		r = (call);                                                                        \
		return r < 0 ? r : 1;                                                              \
	} while (0)

int json_read_str(const struct json_node *obj, const struct json_path *p, const char *key,
		  char **out, struct husk_err **err)
{
	READ_MEMBER(json_as_str(n, JSON_KEY(p, key), out, err));
}

int json_read_bool(const struct json_node *obj, const struct json_path *p, const char *key,
		   bool *out, struct husk_err **err)
{
	READ_MEMBER(json_as_bool(n, JSON_KEY(p, key), out, err));
}

int json_read_i64(const struct json_node *obj, const struct json_path *p, const char *key,
		  int64_t min, int64_t max, int64_t *out, struct husk_err **err)
{
	READ_MEMBER(json_as_i64(n, JSON_KEY(p, key), min, max, out, err));
}

int json_read_u64(const struct json_node *obj, const struct json_path *p, const char *key,
		  uint64_t max, uint64_t *out, struct husk_err **err)
{
	READ_MEMBER(json_as_u64(n, JSON_KEY(p, key), max, out, err));
}

int json_read_strv(const struct json_node *obj, const struct json_path *p, const char *key,
		   char ***out, struct husk_err **err)
{
	READ_MEMBER(json_as_strv(n, JSON_KEY(p, key), out, err));
}

int json_read_obj(const struct json_node *obj, const struct json_path *p, const char *key,
		  const struct json_node **out, struct husk_err **err)
{
	*out = NULL;
	READ_MEMBER(json_as_obj(n, JSON_KEY(p, key), err) ?: (*out = n, 0));
}

int json_read_arr(const struct json_node *obj, const struct json_path *p, const char *key,
		  const struct json_node **out, struct husk_err **err)
{
	*out = NULL;
	READ_MEMBER(json_as_arr(n, JSON_KEY(p, key), err) ?: (*out = n, 0));
}

/* ---- generator ---- */

struct json_gen {
	yajl_gen y;
	bool failed;
	char pending; /* '[' or '{' opened but not yet written: it may stay empty */
	int depth;
	size_t len;
};

struct json_gen *json_gen_new(const char *indent)
{
	struct json_gen *g = xcalloc(1, sizeof(*g));

	g->y = yajl_gen_alloc(NULL);
	if (!g->y)
		abort();
	if (indent) {
		yajl_gen_config(g->y, yajl_gen_beautify, 1);
		yajl_gen_config(g->y, yajl_gen_indent_string, indent);
	}
	return g;
}

void json_gen_free(struct json_gen *g)
{
	if (!g)
		return;
	yajl_gen_free(g->y);
	free(g);
}

void json_gen_freep(struct json_gen **g)
{
	json_gen_free(*g);
	*g = NULL;
}

static void check(struct json_gen *g, yajl_gen_status s)
{
	if (s != yajl_gen_status_ok)
		g->failed = true;
}

/* Write a container opened earlier, now that it is known to be non-empty. */
static void flush(struct json_gen *g)
{
	char c = g->pending;

	g->pending = 0;
	if (c == '[')
		check(g, yajl_gen_array_open(g->y));
	else if (c == '{')
		check(g, yajl_gen_map_open(g->y));
}

static void open_container(struct json_gen *g, char c)
{
	flush(g);
	g->pending = c;
	g->depth++;
}

/* yajl's pretty printer writes an empty container over three lines; Go (and runc) write
 * [] and {}. Emit those as one raw atom so yajl still places commas and indents. */
static void close_container(struct json_gen *g, char open)
{
	if (g->depth == 0 || (g->pending && g->pending != open)) {
		g->failed = true;
		return;
	}
	g->depth--;
	if (g->pending) {
		g->pending = 0;
		check(g, yajl_gen_number(g->y, open == '[' ? "[]" : "{}", 2));
	} else if (open == '[') {
		check(g, yajl_gen_array_close(g->y));
	} else {
		check(g, yajl_gen_map_close(g->y));
	}
}

void json_gen_map_open(struct json_gen *g)
{
	open_container(g, '{');
}

void json_gen_map_close(struct json_gen *g)
{
	close_container(g, '{');
}

void json_gen_array_open(struct json_gen *g)
{
	open_container(g, '[');
}

void json_gen_array_close(struct json_gen *g)
{
	close_container(g, '[');
}

void json_gen_str(struct json_gen *g, const char *s)
{
	flush(g);
	if (!s)
		check(g, yajl_gen_null(g->y));
	else
		check(g, yajl_gen_string(g->y, (const unsigned char *)s, strlen(s)));
}

void json_gen_key(struct json_gen *g, const char *key)
{
	if (!key) {
		g->failed = true;
		return;
	}
	json_gen_str(g, key);
}

void json_gen_int64(struct json_gen *g, int64_t v)
{
	flush(g);
	check(g, yajl_gen_integer(g->y, v));
}

void json_gen_uint64(struct json_gen *g, uint64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

	flush(g);
	check(g, yajl_gen_number(g->y, buf, n));
}

void json_gen_bool(struct json_gen *g, bool v)
{
	flush(g);
	check(g, yajl_gen_bool(g->y, v));
}

void json_gen_null(struct json_gen *g)
{
	flush(g);
	check(g, yajl_gen_null(g->y));
}

void json_gen_strv(struct json_gen *g, const char *const *v)
{
	json_gen_array_open(g);
	for (; v && *v; v++)
		json_gen_str(g, *v);
	json_gen_array_close(g);
}

void json_gen_kstr(struct json_gen *g, const char *key, const char *s)
{
	json_gen_key(g, key);
	json_gen_str(g, s);
}

void json_gen_kint64(struct json_gen *g, const char *key, int64_t v)
{
	json_gen_key(g, key);
	json_gen_int64(g, v);
}

void json_gen_kuint64(struct json_gen *g, const char *key, uint64_t v)
{
	json_gen_key(g, key);
	json_gen_uint64(g, v);
}

void json_gen_kbool(struct json_gen *g, const char *key, bool v)
{
	json_gen_key(g, key);
	json_gen_bool(g, v);
}

const char *json_gen_buf(struct json_gen *g, size_t *len)
{
	const unsigned char *buf;
	size_t n;

	if (g->failed || g->depth != 0 || g->pending)
		return NULL;
	if (yajl_gen_get_buf(g->y, &buf, &n) != yajl_gen_status_ok || n == 0)
		return NULL;
	/* the pretty printer ends the document with a newline; callers add their own */
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	if (len)
		*len = n;
	return (const char *)buf;
}

char *json_gen_dup(struct json_gen *g, size_t *len)
{
	size_t n;
	const char *buf = json_gen_buf(g, &n);

	if (!buf)
		return NULL;
	if (len)
		*len = n;
	return xstrndup(buf, n);
}

int json_need_str(const struct json_node *obj, const struct json_path *p, const char *key,
		  char **out, struct husk_err **err)
{
	int r = json_read_str(obj, p, key, out, err);

	return r == 0 ? json_missing(err, p, key) : (r < 0 ? r : 0);
}

int json_need_strv(const struct json_node *obj, const struct json_path *p, const char *key,
		   char ***out, struct husk_err **err)
{
	int r = json_read_strv(obj, p, key, out, err);

	return r == 0 ? json_missing(err, p, key) : (r < 0 ? r : 0);
}
