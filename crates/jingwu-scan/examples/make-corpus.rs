//! Writes the synthetic scan corpus and its manifest:
//! `cargo run -p jingwu-scan --example make-corpus -- OUTDIR [DPI]`
//! (DPI defaults to 300). Never commit the output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/corpus/mod.rs"]
mod corpus;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("用法：make-corpus 输出目录 [dpi，默认 300]");
        std::process::exit(2);
    };
    let dpi: u32 = args.next().map(|d| d.parse().expect("dpi")).unwrap_or(300);
    let dir = std::path::PathBuf::from(dir);
    let truth = corpus::write_corpus(&dir, &corpus::standard(), dpi);
    println!(
        "{} 页写入 {}（{} dpi），真值见 manifest.json",
        truth.len(),
        dir.display(),
        dpi
    );
}
