//! `jingwu-bench-webkit`: the desktop benchmark's peer — a bare WebKitGTK
//! window (GTK 3, the same WebKitGTK the app's Tauri shell embeds), 1200 ×
//! 800 like the app's, showing one line of Chinese text. No Tauri, no app
//! code, no JavaScript: what any WebKitGTK program costs on this machine.
//! Writes `JINGWU_UI_READY` to stderr when the page has loaded, as the app
//! does when its first screen is interactive.

#[cfg(target_os = "linux")]
fn main() {
    use gtk::prelude::*;
    use webkit2gtk::{LoadEvent, WebViewExt};

    if let Err(e) = gtk::init() {
        eprintln!("GTK 无法初始化：{e}");
        std::process::exit(1);
    }
    let window = gtk::Window::new(gtk::WindowType::Toplevel);
    window.set_default_size(1200, 800);
    window.set_title("WebKitGTK");
    let view = webkit2gtk::WebView::new();
    view.connect_load_changed(|_, event| {
        if event == LoadEvent::Finished {
            eprintln!("JINGWU_UI_READY");
        }
    });
    view.load_html(
        "<!doctype html><meta charset=utf-8><title>WebKitGTK</title><p>警务协同</p>",
        None,
    );
    window.add(&view);
    window.connect_destroy(|_| gtk::main_quit());
    window.show_all();
    gtk::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("只在 Linux 上有意义（WebKitGTK）");
    std::process::exit(1);
}
