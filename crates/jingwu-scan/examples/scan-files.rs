//! Runs the pipeline over files and prints one JSON object per page (what
//! `jingwu-station scan` will print), writing the JPEGs into OUTDIR:
//! `cargo run --release -p jingwu-scan --example scan-files -- OUTDIR FILE…`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("用法：scan-files 输出目录 文件…");
        std::process::exit(2);
    };
    let out = std::path::PathBuf::from(out);
    std::fs::create_dir_all(&out).unwrap();
    let opts = jingwu_scan::Options::default();
    let mut failed = false;
    for file in args {
        match jingwu_scan::process_file(&file, &opts) {
            Ok(pages) => {
                for p in pages {
                    let stem = std::path::Path::new(&file)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let name = format!("{stem}-p{}.jpg", p.page);
                    std::fs::write(out.join(&name), &p.jpeg).unwrap();
                    println!("{}", serde_json::to_string(&p).unwrap());
                }
            }
            Err(e) => {
                failed = true;
                println!(
                    "{}",
                    serde_json::json!({ "source": file, "error": e.to_string() })
                );
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
