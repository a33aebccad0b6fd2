//! Link arguments of a Python extension module (on macOS the interpreter's symbols are
//! resolved when the module is loaded); nothing on Linux.

fn main() {
    pyo3_build_config::add_extension_module_link_args();
}
