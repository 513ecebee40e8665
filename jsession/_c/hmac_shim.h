/* The few OpenSSL calls that differ between 1.1.1 and 3.x, behind one name each.
 *
 * Everything else signing.pyx uses (EVP_MD_CTX_new/free/copy_ex, EVP_DigestInit_ex/
 * Update/Final_ex, EVP_Digest, OPENSSL_cleanse, CRYPTO_memcmp, ERR_*) has the same
 * signature in both.
 */
#ifndef JSESSION_HMAC_SHIM_H
#define JSESSION_HMAC_SHIM_H

#include <openssl/opensslv.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#if OPENSSL_VERSION_NUMBER < 0x10101000L
#error "jsession needs OpenSSL 1.1.1 or newer"
#endif

/* Longest block of any digest we key (SHA3-224's rate is 144 bytes). */
#define JSS_MAX_BLOCK 200

#if OPENSSL_VERSION_NUMBER >= 0x30000000L

/* An explicit fetch, done once per Signer: the implicit one inside EVP_DigestInit_ex
 * looks the algorithm up by name again. The result is reference counted. */
static inline const EVP_MD *jss_digest_fetch(const char *name)
{
    return EVP_MD_fetch(NULL, name, NULL);
}

static inline void jss_digest_free(const EVP_MD *md)
{
    EVP_MD_free((EVP_MD *)md);
}

static inline int jss_digest_size(const EVP_MD *md) { return EVP_MD_get_size(md); }
static inline int jss_fips_enabled(void) { return EVP_default_properties_is_fips_enabled(NULL); }
static inline int jss_digest_block_size(const EVP_MD *md) { return EVP_MD_get_block_size(md); }

#else /* OpenSSL 1.1.1 */

/* A pointer into OpenSSL's static table: nothing to free. */
static inline const EVP_MD *jss_digest_fetch(const char *name)
{
    return EVP_get_digestbyname(name);
}

static inline void jss_digest_free(const EVP_MD *md) { (void)md; }

static inline int jss_digest_size(const EVP_MD *md) { return EVP_MD_size(md); }
static inline int jss_fips_enabled(void) { return 0; } /* 1.1.1 has no FIPS module */
static inline int jss_digest_block_size(const EVP_MD *md) { return EVP_MD_block_size(md); }

#endif

/* SHA-256, the default scheme, through its low-level API: its state is a plain struct
 * that HMAC copies on the stack, where EVP allocates, dispatches and frees a context per
 * copy (most of the cost of a small message). OpenSSL 3 marks this API deprecated but
 * keeps it; a build without it (no-deprecated) uses EVP for every digest. */
#include <openssl/sha.h>
#if defined(OPENSSL_NO_DEPRECATED_3_0)
#define JSS_HAVE_SHA256_STATE 0
typedef struct { unsigned char unused; } jss_sha256_state;
static inline int jss_sha256_init(jss_sha256_state *c) { (void)c; return 0; }
static inline int jss_sha256_update(jss_sha256_state *c, const void *d, size_t n) { (void)c; (void)d; (void)n; return 0; }
static inline int jss_sha256_final(unsigned char *md, jss_sha256_state *c) { (void)md; (void)c; return 0; }
#else
#define JSS_HAVE_SHA256_STATE 1
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#elif defined(_MSC_VER)
#pragma warning(push)
#pragma warning(disable : 4996)
#endif
typedef SHA256_CTX jss_sha256_state;
static inline int jss_sha256_init(jss_sha256_state *c) { return SHA256_Init(c); }
static inline int jss_sha256_update(jss_sha256_state *c, const void *d, size_t n) { return SHA256_Update(c, d, n); }
static inline int jss_sha256_final(unsigned char *md, jss_sha256_state *c) { return SHA256_Final(md, c); }
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#elif defined(_MSC_VER)
#pragma warning(pop)
#endif
#endif

#endif /* JSESSION_HMAC_SHIM_H */
