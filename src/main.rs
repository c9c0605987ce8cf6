fn main() -> std::process::ExitCode {
    minilvb::tune_allocator();
    minilvb::cli::main()
}
