//! For tests that run FerretDB: where its binary is.

use std::path::PathBuf;

/// `name` found in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The FerretDB binary: `$FERRETDB_BIN`, else `~/.local/bin/ferretdb`, else
/// `ferretdb` on the PATH. These tests need it: without it they fail.
pub fn ferretdb_bin() -> String {
    if let Some(bin) = std::env::var_os("FERRETDB_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "FERRETDB_BIN={} does not exist; build it with scripts/install-ferretdb.sh",
            bin.display()
        );
        return bin.display().to_string();
    }
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/bin/ferretdb"));
    home.filter(|p| p.is_file())
        .or_else(|| on_path("ferretdb"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| {
            panic!(
                "FerretDB not found (FERRETDB_BIN, ~/.local/bin/ferretdb, PATH): \
                 install it with scripts/install-ferretdb.sh"
            )
        })
}
