// The ml2tuner command line, as a function tests and main() share.
#pragma once

namespace ml2::cli {

// Parses argv, runs one subcommand and returns the process exit status: 0 on success, 2 for a
// user's mistake (one line on stderr), 1 for a failure while working.
int main(int argc, char** argv);

}  // namespace ml2::cli
