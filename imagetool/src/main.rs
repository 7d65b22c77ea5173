fn main() {
    std::process::exit(oximg::cli::main());
}
