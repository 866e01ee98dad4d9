/* test_ops_progress.c — adapter/progress: a progress line on a terminal, nothing in a pipe.
 * Owns: a pipe and a pseudo-terminal it opens and closes. Never: writes to the real terminal.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapter/progress.h"

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *s = calloc(1, (size_t)n + 1);
    rewind(f);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

static void test_wanted_follows_the_terminal(void **state)
{
    unsetenv("XB_PROGRESS");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_false(xb_progress_wanted(fds[1])); /* a pipe: quiet */
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    assert_true(xb_progress_wanted(slave)); /* a terminal: shown */
    setenv("XB_PROGRESS", "0", 1);
    assert_false(xb_progress_wanted(slave));
    setenv("XB_PROGRESS", "1", 1);
    assert_true(xb_progress_wanted(fds[1]));
    unsetenv("XB_PROGRESS");
    close(slave);
    close(master);
    close(fds[0]);
    close(fds[1]);
}

static void test_off_prints_nothing(void **state)
{
    FILE *f = tmpfile();
    xb_progress p;
    xb_progress_start_on(&p, f, false, "replay", "records", 10);
    usleep(250000);
    for (int i = 0; i <= 10; i++)
        xb_progress_update(&p, (uint64_t)i);
    xb_progress_finish(&p, 10);
    char *s = slurp(f);
    assert_string_equal(s, "");
    free(s);
    fclose(f);
}

static void test_on_draws_throttled_and_ends_the_line(void **state)
{
    FILE *f = tmpfile();
    xb_progress p;
    xb_progress_start_on(&p, f, true, "valuing holdings", "holdings", 10);
    xb_progress_update(&p, 1); /* within the first 200 ms: nothing yet */
    char *s = slurp(f);
    assert_string_equal(s, "");
    free(s);
    fseek(f, 0, SEEK_END);
    usleep(250000);
    xb_progress_update(&p, 5);
    xb_progress_update(&p, 6); /* throttled */
    xb_progress_finish(&p, 10);
    s = slurp(f);
    assert_non_null(strstr(s, "\rvaluing holdings: 5/10 holdings (50%)"));
    assert_null(strstr(s, "6/10"));
    assert_non_null(strstr(s, "\rvaluing holdings: 10/10 holdings (100%)"));
    assert_int_equal(s[strlen(s) - 1], '\n');
    free(s);
    fclose(f);
}

static void test_quick_command_never_draws(void **state)
{
    FILE *f = tmpfile();
    xb_progress p;
    xb_progress_start_on(&p, f, true, "bench", NULL, 0);
    xb_progress_update(&p, 3);
    xb_progress_finish(&p, 3);
    char *s = slurp(f);
    assert_string_equal(s, ""); /* no stray "\n" either */
    free(s);
    fclose(f);
}

static void test_unknown_total(void **state)
{
    FILE *f = tmpfile();
    xb_progress p;
    xb_progress_start_on(&p, f, true, "bench", NULL, 0);
    usleep(250000);
    xb_progress_update(&p, 42);
    xb_progress_finish(&p, 42);
    char *s = slurp(f);
    assert_non_null(strstr(s, "\rbench: 42 items, "));
    assert_null(strstr(s, "ETA"));
    free(s);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wanted_follows_the_terminal),
        cmocka_unit_test(test_off_prints_nothing),
        cmocka_unit_test(test_on_draws_throttled_and_ends_the_line),
        cmocka_unit_test(test_quick_command_never_draws),
        cmocka_unit_test(test_unknown_total),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
