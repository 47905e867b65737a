#include "cli/app.h"

int main(int argc, char** argv) { return ml2::cli::main(argc, argv); }
