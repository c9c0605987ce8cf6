fn main() -> std::process::ExitCode {
    minilvb::cli::main()
}
