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
static inline int jss_digest_block_size(const EVP_MD *md) { return EVP_MD_get_block_size(md); }

#else /* OpenSSL 1.1.1 */

/* A pointer into OpenSSL's static table: nothing to free. */
static inline const EVP_MD *jss_digest_fetch(const char *name)
{
    return EVP_get_digestbyname(name);
}

static inline void jss_digest_free(const EVP_MD *md) { (void)md; }

static inline int jss_digest_size(const EVP_MD *md) { return EVP_MD_size(md); }
static inline int jss_digest_block_size(const EVP_MD *md) { return EVP_MD_block_size(md); }

#endif

#endif /* JSESSION_HMAC_SHIM_H */
