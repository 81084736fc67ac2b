//! The `branchline` binary: everything happens in [`branchline::cli`].

fn main() -> std::process::ExitCode {
    branchline::cli::main()
}
