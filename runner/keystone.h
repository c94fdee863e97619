/* keystone.h — Keystone v3 authentication, the service catalog and
 * authenticated requests to other services (Python-free).
 *
 * Credentials come from OS_* variables, else from clouds.yaml as
 * openstacksdk reads it: OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
 * ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml (first file
 * found), overlaid by secure.yaml from the same places; the cloud is the
 * `cloud` argument, else OS_CLOUD. A configuration is a JSON object with
 * clouds.yaml's shape: {"auth": {...}, "region_name", "interface",
 * "cacert", "cert", "key", "verify", "insecure", "auth_type",
 * "api_timeout"}; OS_CACERT, OS_CERT, OS_KEY and OS_INSECURE fill the
 * TLS keys. `verify: false` or a true `insecure` turns verification off;
 * cert/key are a client certificate and its key (PEM files).
 *
 * Methods: password (user by id or name+domain) and application
 * credentials (id+secret, or name+user+secret); scope: project by id or
 * name+domain, or domain. The token is fetched once, kept for the run and
 * renewed once when a service answers 401. A struct fabc_keystone may be
 * used from several threads.
 */
#ifndef FABC_KEYSTONE_H
#define FABC_KEYSTONE_H

#include <jansson.h>

#include "err.h"
#include "rest.h"

struct fabc_keystone;

/* The configuration for `cloud` (NULL: OS_CLOUD, else OS_* variables).
 * `source` (may be NULL, size bytes) receives where it came from ("OS_*
 * environment variables" or "clouds.yaml path (cloud 'x')").
 * New reference, or NULL with err (FABC_E_CONFIG). */
json_t *fabc_keystone_load_config(const char *cloud, char *source,
                                  size_t size, struct fabc_err *err);

/* The clouds.yaml / secure.yaml file that would be read, or NULL.
 * `secure` selects secure.yaml. (fabc_free) */
char *fabc_keystone_find_file(int secure);

/* Deep-merge src into dst (src wins; objects merge recursively). 0/-1. */
int fabc_keystone_merge(json_t *dst, json_t *src);

/* The body of POST /v3/auth/tokens for cfg. New reference or NULL with
 * err (FABC_E_CONFIG naming the missing setting). */
json_t *fabc_keystone_auth_body(json_t *cfg, struct fabc_err *err);

/* auth_url with "/v3" appended unless it already names a version.
 * (fabc_free) or NULL. */
char *fabc_keystone_v3_url(const char *auth_url);

/* The endpoint of `type` in a token's catalog ("catalog" array) for
 * interface (NULL: public) and region (NULL: any), with %(tenant_id)s /
 * $(project_id)s replaced by project_id. (fabc_free) or NULL with err. */
char *fabc_keystone_catalog_url(json_t *catalog, const char *type,
                                const char *interface, const char *region,
                                const char *project_id,
                                struct fabc_err *err);

/* A session for cfg (borrowed, copied). Authenticates at once. NULL with
 * err: FABC_E_AUTH on a 401 from Keystone. Free with
 * fabc_keystone_free(). */
struct fabc_keystone *fabc_keystone_new(json_t *cfg, struct fabc_err *err);
void fabc_keystone_free(struct fabc_keystone *ks);

/* Authenticate again (drops the current token). 0/-1. */
int fabc_keystone_auth(struct fabc_keystone *ks, struct fabc_err *err);

/* A copy of the current token (fabc_free) or NULL with err. */
char *fabc_keystone_token(struct fabc_keystone *ks, struct fabc_err *err);

/* Project id / name, user id, region of the session (borrowed, constant
 * after fabc_keystone_new). */
const char *fabc_keystone_project_id(const struct fabc_keystone *ks);
const char *fabc_keystone_project_name(const struct fabc_keystone *ks);
const char *fabc_keystone_region(const struct fabc_keystone *ks);

/* Endpoint of a service type (fabc_free) or NULL with err. */
char *fabc_keystone_endpoint(struct fabc_keystone *ks, const char *type,
                             struct fabc_err *err);

/* Make req against service `type`: req->url may be a path relative to
 * the endpoint or an absolute URL; req->token and req->label are filled
 * in. A 401 from the service renews the token once and retries. Same
 * contract as fabc_rest_do. */
int fabc_keystone_request(struct fabc_keystone *ks, const char *type,
                          const struct fabc_rest_req *req,
                          struct fabc_rest_resp *resp, struct fabc_err *err);

/* fabc_keystone_request with `body` (may be NULL) sent as compact JSON.
 * When reply is not NULL and the response has a body (a JSON one, if
 * json_only: Heat answers some calls with HTML), *reply gets it parsed
 * (a new reference, the caller's to json_decref), else NULL. `label`
 * names the service in parse errors. Returns 0 or -1 with err set. */
int fabc_keystone_json_call(struct fabc_keystone *ks, const char *type,
                            const char *label, struct fabc_rest_req *req,
                            json_t *body, int json_only, json_t **reply,
                            struct fabc_err *err);

/* Sleep, interruptible by a cancel (fabc_rest_sleep). */
int fabc_keystone_sleep(struct fabc_keystone *ks, long ms,
                        struct fabc_err *err);

#endif
