/* libnftables through dlopen (see CNftables.h for why). */
#include "CNftables.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct library {
    void *handle;
    struct nft_ctx *(*ctx_new)(uint32_t);
    void (*ctx_free)(struct nft_ctx *);
    int (*ctx_buffer_output)(struct nft_ctx *);
    const char *(*ctx_get_output_buffer)(struct nft_ctx *);
    int (*ctx_buffer_error)(struct nft_ctx *);
    const char *(*ctx_get_error_buffer)(struct nft_ctx *);
    int (*run_cmd_from_buffer)(struct nft_ctx *, const char *);
    void (*ctx_set_dry_run)(struct nft_ctx *, _Bool);
};

static int open_library(const char *soname, struct library *lib, char *error, size_t size) {
    /* RTLD_LOCAL: libnftables' symbols stay out of the global scope; RTLD_NOW: a broken library
       fails here, with the loader's message, not at the first call. */
    void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *reason = dlerror();
        snprintf(error, size, "%s", reason != NULL ? reason : soname);
        return -1;
    }
    struct { const char *name; void **slot; } calls[] = {
        {"nft_ctx_new", (void **)&lib->ctx_new},
        {"nft_ctx_free", (void **)&lib->ctx_free},
        {"nft_ctx_buffer_output", (void **)&lib->ctx_buffer_output},
        {"nft_ctx_get_output_buffer", (void **)&lib->ctx_get_output_buffer},
        {"nft_ctx_buffer_error", (void **)&lib->ctx_buffer_error},
        {"nft_ctx_get_error_buffer", (void **)&lib->ctx_get_error_buffer},
        {"nft_run_cmd_from_buffer", (void **)&lib->run_cmd_from_buffer},
        {"nft_ctx_set_dry_run", (void **)&lib->ctx_set_dry_run},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        *calls[i].slot = dlsym(handle, calls[i].name);
        if (*calls[i].slot == NULL) {
            snprintf(error, size, "%s has no %s", soname, calls[i].name);
            dlclose(handle);
            return -1;
        }
    }
    lib->handle = handle;
    return 0;
}

static struct library loaded;
static char load_error[256];
static int load_status = -1;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) { load_status = open_library(HAVPN_NFT_SONAME, &loaded, load_error, sizeof load_error); }

int havpn_nft_load(char *error, size_t size) {
    pthread_once(&load_once, load);
    if (load_status != 0) snprintf(error, size, "%s", load_error);
    return load_status;
}

int havpn_nft_check_library(const char *soname, char *error, size_t size) {
    struct library lib;
    memset(&lib, 0, sizeof lib);
    if (open_library(soname, &lib, error, size) != 0) return -1;
    dlclose(lib.handle);
    return 0;
}

struct nft_ctx *havpn_nft_ctx_new(uint32_t flags) { return loaded.ctx_new(flags); }
void havpn_nft_ctx_free(struct nft_ctx *ctx) { loaded.ctx_free(ctx); }
int havpn_nft_ctx_buffer_output(struct nft_ctx *ctx) { return loaded.ctx_buffer_output(ctx); }
const char *havpn_nft_ctx_get_output_buffer(struct nft_ctx *ctx) { return loaded.ctx_get_output_buffer(ctx); }
int havpn_nft_ctx_buffer_error(struct nft_ctx *ctx) { return loaded.ctx_buffer_error(ctx); }
const char *havpn_nft_ctx_get_error_buffer(struct nft_ctx *ctx) { return loaded.ctx_get_error_buffer(ctx); }
int havpn_nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf) { return loaded.run_cmd_from_buffer(nft, buf); }
void havpn_nft_ctx_set_dry_run(struct nft_ctx *ctx, _Bool dry) { loaded.ctx_set_dry_run(ctx, dry); }
