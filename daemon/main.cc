// chipwatch: argv -> subcommand. The only place that exits the process.
#include "app/cli.h"

int main(int argc, char** argv) { return chipwatch::RunCli(argc, argv); }
