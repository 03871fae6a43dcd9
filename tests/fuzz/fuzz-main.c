/* SPDX-License-Identifier: MIT */
/* Replay driver: feeds every file named on the command line (directories are walked one level) to
 * LLVMFuzzerTestOneInput, so the corpus runs as an ordinary test without a fuzzing engine. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
        FILE *f = fopen(path, "rbe");
        uint8_t *buf = NULL;
        size_t n = 0, cap = 0;

        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        for (;;) {
                if (n == cap) {
                        uint8_t *nb = realloc(buf, cap = cap ? cap * 2 : 4096);
                        if (!nb)
                                abort();
                        buf = nb;
                }
                size_t k = fread(buf + n, 1, cap - n, f);
                if (k == 0)
                        break;
                n += k;
        }
        fclose(f);
        printf("%s (%zu bytes)\n", path, n);
        fflush(stdout);
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        return 0;
}

int main(int argc, char **argv)
{
        int files = 0, bad = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        bad++;
                        continue;
                }
                if (!S_ISDIR(st.st_mode)) {
                        bad += run_file(argv[i]) < 0;
                        files++;
                        continue;
                }
                struct dirent **ents;
                int n = scandir(argv[i], &ents, NULL, alphasort);
                if (n < 0) {
                        bad++;
                        continue;
                }
                for (int k = 0; k < n; k++) {
                        char path[4096];
                        if (ents[k]->d_name[0] != '.') {
                                snprintf(path, sizeof(path), "%s/%s", argv[i], ents[k]->d_name);
                                if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                                        bad += run_file(path) < 0;
                                        files++;
                                }
                        }
                        free(ents[k]);
                }
                free(ents);
        }
        printf("%d inputs replayed\n", files);
        return bad > 0 || files == 0 ? 1 : 0;
}
