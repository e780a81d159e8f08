/* driver.c — runs a libFuzzer harness over files, for compilers without -fsanitize=fuzzer.
 *
 * With gcc (the default build) every harness is linked with this main() and replays its corpus
 * in ctest, so the inputs that once found bugs keep being checked under ASan/UBSan. With
 * clang and -DTP_FUZZ=ON the same harnesses are real libFuzzer targets instead. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    uint8_t *buf = malloc(1 << 20);
    if (!buf) {
        fclose(f);
        return 1;
    }
    size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int failed = 0, ran = 0;
    for (int i = 1; i < argc; i++, ran++)
        failed |= run_file(argv[i]);
    /* Also a few synthetic edge inputs, so an empty corpus still exercises the harness. */
    static const uint8_t edge[] = {0xF3, 0x89, 0x9A, 0xC2, 0x0A, 0x01, 'k', '{', '}', '[', ']', '\n', 0};
    for (size_t len = 0; len <= sizeof edge; len++, ran++)
        LLVMFuzzerTestOneInput(edge, len);
    printf("replayed %d inputs\n", ran);
    return failed;
}
