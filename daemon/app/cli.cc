#include "app/cli.h"

#include <cstdio>
#include <cstring>

#include "core/version.h"

namespace chipwatch {

int RunCli(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "version") == 0) {
    std::printf("chipwatch %s\n", CHIPWATCH_VERSION);
    return 0;
  }
  std::fprintf(stderr, "usage: chipwatch <run|replay|check|test|version> ...\n");
  return 2;
}

}  // namespace chipwatch
