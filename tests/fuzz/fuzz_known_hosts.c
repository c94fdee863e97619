/* fuzz_known_hosts.c — libFuzzer target for fabc's known_hosts reader:
 * host field matching (names, * ? patterns, !negation, [host]:port,
 * hashed |1|salt|hash entries), whole-file checks and base64.
 *
 * The input is split at NUL bytes into up to four parts:
 *
 *     name \0 keytype \0 key-base64 \0 known_hosts text
 *
 * Missing parts get defaults (name "web1", keytype "ssh-ed25519", a fixed
 * key); with no NUL at all the whole input is the known_hosts text. The
 * file is checked with fabc_kh_check_text, the buffer-level function that
 * fabc_kh_check_file calls after reading the file, so nothing touches the
 * disk. Every host field of the text is also matched on its own.
 *
 * Invariants checked (__builtin_trap() when violated):
 *  - check_text returns a FABC_KH_* result; MATCH and MISMATCH come with
 *    the line (>= 1) of the key, NOTFOUND with line 0 and no key types;
 *    the types buffer stays NUL-terminated;
 *  - a host name matches itself (plain and as "[name]:port") and the
 *    hashed entry OpenSSH would write for it (HMAC-SHA1, salt from the
 *    input); a name does not match "!name";
 *  - base64 encode/decode round-trips.
 * Seeds: tests/fuzz/seeds/fuzz_known_hosts/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "err.h"
#include "ssh.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A 51-byte ssh-ed25519 public key blob's worth of bytes. */
static const unsigned char default_key[] =
    "\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
    "0123456789abcdef0123456789abcdef";

/* Next NUL-separated part of [*p, end), or NULL when none is left. */
static char *next_part(const uint8_t **p, const uint8_t *end, int last)
{
    const uint8_t *s = *p, *z;
    size_t n;

    if (!s)
        return NULL;
    z = last ? NULL : memchr(s, '\0', (size_t)(end - s));
    n = z ? (size_t)(z - s) : (size_t)(end - s);
    *p = z ? z + 1 : NULL;
    return fabc_strndup((const char *)s, n);
}

/* No pattern or list characters: the name is matched literally. */
static int is_literal(const char *s)
{
    return *s && s[0] != '!' && !strpbrk(s, "*?,") && strlen(s) < 500 &&
           strncmp(s, "|1|", 3) != 0;
}

static void check_b64(const unsigned char *in, size_t n)
{
    unsigned char back[512];
    char *enc;
    long l;

    if (n > sizeof(back))
        n = sizeof(back);
    for (int pad = 0; pad < 2; pad++) {
        enc = fabc_b64_encode(in, n, pad);
        if (!enc)
            return;
        l = fabc_b64_decode(enc, strlen(enc), back, sizeof(back));
        if (l != (long)n || memcmp(back, in, n) != 0)
            __builtin_trap();
        fabc_free(enc);
    }
}

/* The hashed field OpenSSH writes for name: |1|b64(salt)|b64(hmac).
 * OpenSSH's salts are 20 bytes; any length from 1 to 64 must work. */
static void check_hashed(const char *name, const unsigned char *salt,
                         size_t saltlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *s64, *h64, field[256];

    if (saltlen < 1 || saltlen > 64)
        return;
    if (!HMAC(EVP_sha1(), salt, (int)saltlen, (const unsigned char *)name,
              strlen(name), mac, &maclen))
        return;
    s64 = fabc_b64_encode(salt, saltlen, 1);
    h64 = fabc_b64_encode(mac, maclen, 1);
    if (s64 && h64) {
        snprintf(field, sizeof(field), "|1|%s|%s", s64, h64);
        if (fabc_kh_field_match(field, name) != 1)
            __builtin_trap();
    }
    fabc_free(s64);
    fabc_free(h64);
}

static void check_self(const char *name)
{
    char kh[600], neg[600];

    if (!is_literal(name))
        return;
    if (fabc_kh_field_match(name, name) != 1)
        __builtin_trap();
    snprintf(neg, sizeof(neg), "*,!%s", name);
    if (fabc_kh_field_match(neg, name) != 0)
        __builtin_trap();
    fabc_kh_name(kh, sizeof(kh), name, 2222);
    if (fabc_kh_field_match(kh, kh) != 1)
        __builtin_trap();
}

static void check_text(const char *text, const char *name,
                       const char *keytype, const unsigned char *key,
                       size_t keylen)
{
    char types[64];
    struct fabc_err err;
    int line = -1, r;

    fabc_err_clear(&err);
    memset(types, 'x', sizeof(types));
    r = fabc_kh_check_text(text, name, keytype, key, keylen, &line, types,
                           sizeof(types), &err);
    if (!memchr(types, '\0', sizeof(types)))
        __builtin_trap();
    switch (r) {
    case FABC_KH_MATCH:
    case FABC_KH_MISMATCH:
        if (line < 1)
            __builtin_trap();
        break;
    case FABC_KH_NOTFOUND:
        if (line != 0 || types[0])
            __builtin_trap();
        break;
    case FABC_KH_OTHERTYPE:
        if (line != 0)
            __builtin_trap();
        break;
    case -1:
        if (err.code != FABC_E_NOMEM)
            __builtin_trap();
        break;
    default:
        __builtin_trap();
    }
}

/* Match the first field of every line against name, as check_text does
 * but without its length limit. */
static void match_fields(const char *text, const char *name)
{
    const char *p = text;

    while (*p) {
        size_t len = strcspn(p, "\n");
        size_t skip = strspn(p, " \t");
        char *field;

        if (skip < len) {
            size_t fl = strcspn(p + skip, " \t\n");

            field = fabc_strndup(p + skip, fl);
            if (field) {
                int m = fabc_kh_field_match(field, name);

                if (m != 0 && m != 1)
                    __builtin_trap();
                fabc_free(field);
            }
        }
        p += len;
        if (*p == '\n')
            p++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    int has_sep = memchr(data, '\0', size) != NULL;
    char *name = NULL, *keytype = NULL, *key64 = NULL, *text = NULL;
    unsigned char key[2048];
    size_t keylen = sizeof(default_key) - 1;
    char kh[600];

    if (has_sep) {
        name = next_part(&p, end, 0);
        keytype = next_part(&p, end, 0);
        key64 = next_part(&p, end, 0);
        text = next_part(&p, end, 1);
    } else {
        text = fabc_strndup((const char *)data, size);
    }
    if (!text)
        text = fabc_strdup("");
    if (!name)
        name = fabc_strdup("web1");
    if (!keytype)
        keytype = fabc_strdup("ssh-ed25519");
    if (!text || !name || !keytype)
        goto out;
    memcpy(key, default_key, keylen);
    if (key64) {
        long l = fabc_b64_decode(key64, strlen(key64), key, sizeof(key));

        if (l >= 0)
            keylen = (size_t)l;
        else
            memcpy(key, default_key, keylen);
    }
    check_b64(key, keylen);
    check_b64((const unsigned char *)text, strlen(text));

    check_text(text, name, keytype, key, keylen);
    fabc_kh_name(kh, sizeof(kh), name, 2222);
    check_text(text, kh, keytype, key, keylen);
    match_fields(text, name);
    match_fields(text, kh);

    check_self(name);
    check_hashed(name, (const unsigned char *)keytype,
                 strlen(keytype) < 64 ? strlen(keytype) : 64);
    check_hashed(kh, key, keylen < 20 ? keylen : 20);
out:
    fabc_free(name);
    fabc_free(keytype);
    fabc_free(key64);
    fabc_free(text);
    return 0;
}
