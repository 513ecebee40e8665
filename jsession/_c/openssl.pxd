# The OpenSSL API used by jsession, for both 1.1.1 and 3.x. Version differences are
# hidden in hmac_shim.h; nothing here exists in only one of them.

cdef extern from "openssl/evp.h" nogil:
    ctypedef struct ENGINE:
        pass
    ctypedef struct EVP_MD:
        pass
    ctypedef struct EVP_MD_CTX:
        pass

    enum: EVP_MAX_MD_SIZE

    EVP_MD_CTX *EVP_MD_CTX_new()
    void EVP_MD_CTX_free(EVP_MD_CTX *ctx)
    int EVP_MD_CTX_copy_ex(EVP_MD_CTX *out, const EVP_MD_CTX *in_)
    int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl)
    int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt)
    int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s)
    int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
                   const EVP_MD *type, ENGINE *impl)

cdef extern from "openssl/crypto.h" nogil:
    void OPENSSL_cleanse(void *ptr, size_t len)
    int CRYPTO_memcmp(const void *a, const void *b, size_t len)

cdef extern from "openssl/err.h" nogil:
    unsigned long ERR_get_error()
    void ERR_error_string_n(unsigned long e, char *buf, size_t len)
    void ERR_clear_error()

cdef extern from "hmac_shim.h" nogil:
    enum: JSS_MAX_BLOCK
    const EVP_MD *jss_digest_fetch(const char *name)
    void jss_digest_free(const EVP_MD *md)
    int jss_digest_size(const EVP_MD *md)
    int jss_digest_block_size(const EVP_MD *md)
    int jss_fips_enabled()
    enum: JSS_HAVE_SHA256_STATE
    ctypedef struct jss_sha256_state:
        pass
    int jss_sha256_init(jss_sha256_state *c)
    int jss_sha256_update(jss_sha256_state *c, const void *d, size_t n)
    int jss_sha256_final(unsigned char *md, jss_sha256_state *c)
