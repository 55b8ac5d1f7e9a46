// libFuzzer's entry for programs that keep their own main (LLVM 13 and later). Only the
// fuzzing build (make fuzz, -sanitize=fuzzer) links it; the replay build never calls it.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
