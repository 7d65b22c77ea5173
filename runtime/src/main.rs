fn main() {
    std::process::exit(oxrun::cli::main());
}
