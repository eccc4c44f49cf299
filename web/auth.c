/* Login for listeners other people can reach: a libsodium crypto_pwhash_str
 * hash in a file, session cookies and CSRF tokens kept in memory (a restart
 * logs everyone out), and failed logins rate-limited per address. */
#include "web_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 32 random bytes, hex: tokens nobody can guess. */
#define TOKEN_BYTES 32
#define TOKEN_HEX (TOKEN_BYTES * 2 + 1)
/* Addresses whose failures are remembered at once. */
#define TRACKED_ADDRESSES 64

typedef struct login {
    char token[TOKEN_HEX];
    char csrf[TOKEN_HEX];
    time_t since;
} login;

typedef struct failures {
    char address[64];
    time_t window_start;
    unsigned count;
} failures;

struct web_auth {
    pthread_mutex_t lock;
    bool required;
    char hash[crypto_pwhash_STRBYTES];
    char server_csrf[TOKEN_HEX];   /* the token when nobody logs in */
    login logins[WEB_MAX_LOGINS];
    failures failed[TRACKED_ADDRESSES];
};

static void new_token(char out[TOKEN_HEX])
{
    unsigned char raw[TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, TOKEN_HEX, raw, sizeof raw);
}

bool web_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && la > 0 && sodium_memcmp(a, b, la) == 0;
}

static rm_status sodium_ready(rm_error *err)
{
    if (sodium_init() < 0)
        return rm_error_set(err, RM_ERR_UNSUPPORTED,
                            "libsodium could not be initialised");
    return RM_OK;
}

/* The password file's one line: the hash. */
static rm_status write_hash(FILE *out, const void *hash, rm_error *err)
{
    (void)err;
    fprintf(out, "%s\n", (const char *)hash);
    return RM_OK;
}

rm_status rm_web_set_password(const char *path, const char *password,
                              rm_error *err)
{
    rm_status st = sodium_ready(err);
    if (st != RM_OK)
        return st;
    if (strlen(password) < 8)
        return rm_error_set(err, RM_ERR_ARG,
                            "password: at least 8 characters, please");
    /* a config folder: 0700 where made */
    if (rm_make_parent_dirs(path, 0700, err) != RM_OK)
        return err->code;
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return rm_error_set(err, RM_ERR_NOMEM, "password: hashing ran out of "
                            "memory");
    return rm_atomic_write(path, 0600, true, write_hash, hash, err);
}

static rm_status load_hash(web_auth *a, const char *path, rm_error *err)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return RM_OK;
        return rm_error_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
    }
    bool read_ok = fgets(a->hash, sizeof a->hash, f) != NULL;
    fclose(f);
    a->hash[strcspn(a->hash, "\n")] = '\0';
    if (!read_ok || strncmp(a->hash, "$argon2", 7) != 0)
        return rm_error_set(err, RM_ERR_FORMAT, "%s: line 1: not a password "
                            "hash from 'rollmap serve --set-password'", path);
    a->required = true;
    return RM_OK;
}

rm_status web_auth_open(web_auth **out, const char *password_file,
                        rm_error *err)
{
    rm_status st = sodium_ready(err);
    if (st != RM_OK)
        return st;
    web_auth *a = calloc(1, sizeof *a);
    if (!a)
        return rm_error_set(err, RM_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&a->lock, NULL);
    new_token(a->server_csrf);
    st = load_hash(a, password_file, err);
    if (st != RM_OK) {
        web_auth_close(a);
        return st;
    }
    *out = a;
    return RM_OK;
}

void web_auth_close(web_auth *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    sodium_memzero(a, sizeof *a);
    free(a);
}

bool web_auth_required(const web_auth *a)
{
    return a->required;
}

static login *find_login(web_auth *a, const char *cookie)
{
    for (size_t i = 0; cookie && i < WEB_MAX_LOGINS; i++)
        if (a->logins[i].token[0] && web_token_equal(a->logins[i].token, cookie))
            return &a->logins[i];
    return NULL;
}

const char *web_auth_session_csrf(web_auth *a, const char *cookie, char *out,
                                  size_t cap)
{
    const char *found = NULL;
    pthread_mutex_lock(&a->lock);
    if (!a->required) {
        found = a->server_csrf;
    } else {
        login *l = find_login(a, cookie);
        found = l ? l->csrf : NULL;
    }
    if (found)
        snprintf(out, cap, "%s", found);
    pthread_mutex_unlock(&a->lock);
    return found ? out : NULL;
}

static failures *failures_of(web_auth *a, const char *address, time_t now)
{
    failures *oldest = &a->failed[0];
    for (size_t i = 0; i < TRACKED_ADDRESSES; i++) {
        failures *f = &a->failed[i];
        if (strcmp(f->address, address) == 0) {
            if (now - f->window_start >= WEB_LOGIN_WINDOW_S)
                *f = (failures){.window_start = now};
            snprintf(f->address, sizeof f->address, "%s", address);
            return f;
        }
        if (f->window_start < oldest->window_start)
            oldest = f;
    }
    *oldest = (failures){.window_start = now};
    snprintf(oldest->address, sizeof oldest->address, "%s", address);
    return oldest;
}

static login *free_login_slot(web_auth *a)
{
    login *oldest = &a->logins[0];
    for (size_t i = 0; i < WEB_MAX_LOGINS; i++) {
        if (!a->logins[i].token[0])
            return &a->logins[i];
        if (a->logins[i].since < oldest->since)
            oldest = &a->logins[i];
    }
    return oldest;
}

rm_status web_auth_login(web_auth *a, const char *address,
                         const char *password, char *token, size_t cap,
                         rm_error *err)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&a->lock);
    failures *f = failures_of(a, address, now);
    bool blocked = f->count >= WEB_LOGIN_ATTEMPTS;
    pthread_mutex_unlock(&a->lock);
    if (blocked)
        return rm_error_set(err, RM_ERR_BUSY, "too many failed logins: wait a "
                            "minute and try again");
    /* The slow hash check runs outside the lock. */
    bool ok = a->required &&
              crypto_pwhash_str_verify(a->hash, password, strlen(password)) == 0;
    pthread_mutex_lock(&a->lock);
    rm_status st = RM_OK;
    if (!ok) {
        failures_of(a, address, now)->count++;
        st = rm_error_set(err, RM_ERR_ARG, "wrong password");
    } else {
        login *l = free_login_slot(a);
        new_token(l->token);
        new_token(l->csrf);
        l->since = now;
        snprintf(token, cap, "%s", l->token);
    }
    pthread_mutex_unlock(&a->lock);
    return st;
}

void web_auth_logout(web_auth *a, const char *cookie)
{
    pthread_mutex_lock(&a->lock);
    login *l = find_login(a, cookie);
    if (l)
        *l = (login){0};
    pthread_mutex_unlock(&a->lock);
}
