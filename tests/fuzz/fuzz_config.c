/* fuzz_config.c — libFuzzer harness for the configuration loader (adapter/config.c):
 * arbitrary bytes as the YAML config text (xb_config_load_buffer).
 * Owns nothing. Never opens the network. Any crash, sanitizer report or leak is a bug;
 * a refused config is the expected outcome. */
#include <stddef.h>
#include <stdint.h>

#include "adapter/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xb_config *cfg = NULL;
    xb_error err;
    if (xb_config_load_buffer(&cfg, (const char *)data, size, "fuzz.yaml", &err) == 0)
        xb_config_free(cfg);
    return 0;
}
