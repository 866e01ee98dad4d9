/* fuzz_catalog.c — libFuzzer harness for the policy catalog loader (adapter/policy/catalog.c):
 * arbitrary bytes are loaded as a catalog file (YAML -> compile -> verify), then selected.
 * Owns one memfd per input (closed before returning). Never writes to the file system.
 * Any crash, sanitizer report or leak is a bug; a refused catalog is the expected outcome. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "adapter/policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the loader takes a path: an anonymous memory file gives it one without touching disk */
    int fd = memfd_create("fuzz-catalog.yaml", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    xb_policy_catalog_set *set = NULL;
    xb_error err;
    if (xb_policy_catalog_set_new(&set, &err) == 0) {
        xb_policy_catalog_opts opts = {0};
        if (xb_policy_catalog_set_load(set, path, &opts, &err) == 0) {
            const xb_policy_catalog *cat = NULL;
            /* 2025-06-01T00:00:00Z: inside the windows the shipped catalogs use */
            if (xb_policy_catalog_select(&cat, set, NULL, 1748736000, &err) == 0) {
                xb_policy_thresholds th;
                xb_policy_catalog_thresholds(&th, cat);
                (void)xb_policy_catalog_id(cat);
                (void)xb_policy_catalog_sha256(cat);
            }
            /* a second load of the same bytes must be refused or accepted, never corrupt */
            (void)xb_policy_catalog_set_load(set, path, &opts, &err);
        }
        xb_policy_catalog_set_free(set);
    }
    close(fd);
    return 0;
}
