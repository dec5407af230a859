//! Printing and print preview on Windows, for `jingwu_slip::print`'s
//! Windows backend (see docs/platforms.md, "Windows").
//!
//! - Pages are drawn by Windows' own PDF renderer, `Windows.Data.Pdf`
//!   (WinRT, part of Windows 10 and 11): nothing to bundle or install. The
//!   preview shows the very bitmaps that are printed.
//! - Printing sends those bitmaps through the Win32 print API (GDI): a
//!   device context for the printer, `StartDoc`/`StartPage`, one
//!   `StretchDIBits` per page at the page's true size on paper, then
//!   `EndPage`/`EndDoc`; the job goes to the Windows spooler like any
//!   program's.
//! - The printers are those `EnumPrinters` lists (local and network
//!   connections), the default (`GetDefaultPrinter`) first.
//!
//! Neither runs under Wine (Wine has no `Windows.Data.Pdf`): the crate is
//! compiled and linted for `x86_64-pc-windows-gnu` on Linux and tried on a
//! real Windows PC. On other systems it is empty.
#![cfg(windows)]

use windows::core::{PCWSTR, PWSTR};
use windows::Data::Pdf::{PdfDocument, PdfPageRenderOptions};
use windows::Security::Cryptography::CryptographicBuffer;
use windows::Storage::Streams::{Buffer, InMemoryRandomAccessStream, InputStreamOptions};
use windows::Win32::Graphics::Gdi::{
    CreateDCW, DeleteDC, GetDeviceCaps, SetStretchBltMode, StretchDIBits, BITMAPINFO,
    BITMAPINFOHEADER, BI_RGB, DIB_RGB_COLORS, GET_DEVICE_CAPS_INDEX, HALFTONE, HDC, LOGPIXELSX,
    LOGPIXELSY, PHYSICALOFFSETX, PHYSICALOFFSETY, SRCCOPY,
};
use windows::Win32::Graphics::Printing::{
    EnumPrintersW, GetDefaultPrinterW, PRINTER_ENUM_CONNECTIONS, PRINTER_ENUM_LOCAL,
    PRINTER_INFO_4W,
};
use windows::Win32::Storage::Xps::{AbortDoc, EndDoc, EndPage, StartDocW, StartPage, DOCINFOW};

/// Errors of Windows printing. Shown to users.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Windows 没有设置默认打印机：请在“设置 → 打印机和扫描仪”中设置一台，或指定打印机")]
    NoDefaultPrinter,
    #[error("无法打开打印机“{0}”（请检查打印机名称和连接）")]
    OpenPrinter(String),
    #[error("列出打印机失败：{0}")]
    ListPrinters(String),
    #[error("Windows 无法显示这份 PDF：{0}")]
    Pdf(String),
    #[error("这份 PDF 没有页面")]
    NoPages,
    #[error("打印失败：{0}")]
    Print(String),
}

fn pdf_error(e: windows::core::Error) -> Error {
    Error::Pdf(e.message())
}

/// The last Win32 error of this thread, for a failed GDI call.
fn print_error(call: &str) -> Error {
    Error::Print(format!(
        "{call}：{}",
        windows::core::Error::from_thread().message()
    ))
}

/// A printer Windows knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printer {
    pub name: String,
    pub is_default: bool,
}

/// `s` as a NUL-terminated UTF-16 string.
fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(Some(0)).collect()
}

/// The user's default printer, if one is set.
pub fn default_printer() -> Option<String> {
    let mut len = 0u32;
    // SAFETY: a length query: no buffer, and `len` is a valid u32 to write.
    let _ = unsafe { GetDefaultPrinterW(None, &mut len) };
    if len == 0 {
        return None;
    }
    let mut buf = vec![0u16; len as usize];
    // SAFETY: `buf` holds `len` UTF-16 units, the size the call is given.
    let ok = unsafe { GetDefaultPrinterW(Some(PWSTR(buf.as_mut_ptr())), &mut len) };
    if !ok.as_bool() {
        return None;
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    Some(String::from_utf16_lossy(&buf[..end])).filter(|n| !n.is_empty())
}

/// The printers of this PC and its network connections, the default
/// first, then by name. No printer is an empty list.
pub fn printers() -> Result<Vec<Printer>, Error> {
    let flags = PRINTER_ENUM_LOCAL | PRINTER_ENUM_CONNECTIONS;
    let (mut needed, mut count) = (0u32, 0u32);
    // SAFETY: a size query: no buffer, and both counters are valid u32s.
    // It fails with ERROR_INSUFFICIENT_BUFFER by design, hence `let _`.
    let _ = unsafe { EnumPrintersW(flags, PCWSTR::null(), 4, None, &mut needed, &mut count) };
    if needed == 0 {
        return Ok(Vec::new());
    }
    // PRINTER_INFO_4W holds pointers: a u64 buffer keeps them aligned.
    let mut buf = vec![0u64; (needed as usize).div_ceil(8)];
    let byte_len = buf.len() * 8;
    // SAFETY: the same memory as `buf`, seen as bytes (u8 has no alignment
    // or validity requirement); `buf` is not used while `bytes` lives.
    let bytes = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), byte_len) };
    // SAFETY: `bytes` is at least `needed` bytes long, as the size query
    // asked, and the counters are valid u32s.
    unsafe {
        EnumPrintersW(
            flags,
            PCWSTR::null(),
            4,
            Some(bytes),
            &mut needed,
            &mut count,
        )
    }
    .map_err(|e| Error::ListPrinters(e.message()))?;
    // SAFETY: EnumPrintersW wrote `count` PRINTER_INFO_4W records at the
    // start of `buf`, which is 8-byte aligned like them and outlives `infos`.
    let infos = unsafe {
        std::slice::from_raw_parts(buf.as_ptr().cast::<PRINTER_INFO_4W>(), count as usize)
    };
    let default = default_printer();
    let mut list = Vec::with_capacity(infos.len());
    for info in infos {
        if info.pPrinterName.is_null() {
            continue;
        }
        // SAFETY: a non-null NUL-terminated name inside `buf`, still alive.
        let name = unsafe { info.pPrinterName.to_string() }
            .map_err(|e| Error::ListPrinters(e.to_string()))?;
        let is_default = default.as_deref() == Some(name.as_str());
        list.push(Printer { name, is_default });
    }
    list.sort_by(|a, b| b.is_default.cmp(&a.is_default).then(a.name.cmp(&b.name)));
    Ok(list)
}

/// Opens a PDF with Windows' renderer.
fn load(pdf: &[u8]) -> Result<PdfDocument, Error> {
    let stream = InMemoryRandomAccessStream::new().map_err(pdf_error)?;
    let bytes = CryptographicBuffer::CreateFromByteArray(pdf).map_err(pdf_error)?;
    stream
        .WriteAsync(&bytes)
        .and_then(|op| op.join())
        .map_err(pdf_error)?;
    stream.Seek(0).map_err(pdf_error)?;
    let doc = PdfDocument::LoadFromStreamAsync(&stream)
        .and_then(|op| op.join())
        .map_err(pdf_error)?;
    if doc.PageCount().map_err(pdf_error)? == 0 {
        return Err(Error::NoPages);
    }
    Ok(doc)
}

/// One rendered page: its PNG, and its size on paper in inches.
struct Rendered {
    png: Vec<u8>,
    width_in: f64,
    height_in: f64,
}

/// Renders every page at `dpi` (PNG, white background).
fn render(doc: &PdfDocument, dpi: u32) -> Result<Vec<Rendered>, Error> {
    let count = doc.PageCount().map_err(pdf_error)?;
    let mut pages = Vec::with_capacity(count as usize);
    for index in 0..count {
        let page = doc.GetPage(index).map_err(pdf_error)?;
        // In device-independent pixels, 96 to the inch.
        let size = page.Size().map_err(pdf_error)?;
        let (width_in, height_in) = (f64::from(size.Width) / 96.0, f64::from(size.Height) / 96.0);
        let px = |inches: f64| (inches * f64::from(dpi)).round().clamp(1.0, 20_000.0) as u32;
        let options = PdfPageRenderOptions::new().map_err(pdf_error)?;
        options
            .SetDestinationWidth(px(width_in))
            .map_err(pdf_error)?;
        options
            .SetDestinationHeight(px(height_in))
            .map_err(pdf_error)?;
        let out = InMemoryRandomAccessStream::new().map_err(pdf_error)?;
        page.RenderWithOptionsToStreamAsync(&out, &options)
            .and_then(|op| op.join())
            .map_err(pdf_error)?;
        let len = u32::try_from(out.Size().map_err(pdf_error)?)
            .map_err(|_| Error::Pdf("页面图像过大".into()))?;
        let buffer = Buffer::Create(len).map_err(pdf_error)?;
        let read = out
            .GetInputStreamAt(0)
            .and_then(|input| input.ReadAsync(&buffer, len, InputStreamOptions::None))
            .and_then(|op| op.join())
            .map_err(pdf_error)?;
        let mut png = windows::core::Array::<u8>::new();
        CryptographicBuffer::CopyToByteArray(&read, &mut png).map_err(pdf_error)?;
        pages.push(Rendered {
            png: png.to_vec(),
            width_in,
            height_in,
        });
    }
    Ok(pages)
}

/// Each page of a PDF as a PNG at `dpi` (30 to 300), drawn by Windows.
pub fn preview_pngs(pdf: &[u8], dpi: u32) -> Result<Vec<Vec<u8>>, Error> {
    let doc = load(pdf)?;
    Ok(render(&doc, dpi.clamp(30, 300))?
        .into_iter()
        .map(|p| p.png)
        .collect())
}

/// A page as a 24-bit top-down device-independent bitmap.
struct Dib {
    width: i32,
    height: i32,
    bits: Vec<u8>,
}

fn dib(png: &[u8]) -> Result<Dib, Error> {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|e| Error::Pdf(e.to_string()))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    // Rows of a DIB are padded to 4 bytes.
    let stride = (w as usize * 3).div_ceil(4) * 4;
    let mut bits = vec![0u8; stride * h as usize];
    for (line, row) in bits.chunks_exact_mut(stride).zip(img.rows()) {
        for (bgr, px) in line.chunks_exact_mut(3).zip(row) {
            let [r, g, b] = px.0;
            bgr.copy_from_slice(&[b, g, r]);
        }
    }
    let too_big = |_| Error::Pdf("页面图像过大".into());
    Ok(Dib {
        width: i32::try_from(w).map_err(too_big)?,
        height: i32::try_from(h).map_err(too_big)?,
        bits,
    })
}

/// A printer's device context, deleted when dropped.
struct PrinterDc(HDC);

impl PrinterDc {
    fn open(name: &str) -> Result<Self, Error> {
        let driver = wide("WINSPOOL");
        let device = wide(name);
        // SAFETY: both strings are NUL-terminated and outlive the call; no
        // port and no DEVMODE (the printer's own defaults).
        let hdc = unsafe {
            CreateDCW(
                PCWSTR(driver.as_ptr()),
                PCWSTR(device.as_ptr()),
                PCWSTR::null(),
                None,
            )
        };
        if hdc.is_invalid() {
            return Err(Error::OpenPrinter(name.to_string()));
        }
        Ok(Self(hdc))
    }

    fn caps(&self, index: GET_DEVICE_CAPS_INDEX) -> i32 {
        // SAFETY: `self.0` is a live device context owned by `self`.
        unsafe { GetDeviceCaps(Some(self.0), index) }
    }
}

impl Drop for PrinterDc {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from CreateDCW and is deleted only here.
        let _ = unsafe { DeleteDC(self.0) };
    }
}

/// A started print job, aborted when dropped before it is ended.
struct Job<'a> {
    dc: &'a PrinterDc,
    ended: bool,
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        if !self.ended {
            // SAFETY: the device context is alive (borrowed) and has a
            // started document.
            let _ = unsafe { AbortDoc(self.dc.0) };
        }
    }
}

/// Prints a PDF on `printer` (or the default printer), each page at its
/// own size on paper, titled `title` in the print queue. Returns the
/// spooler's job id.
pub fn print_pdf(pdf: &[u8], printer: Option<&str>, title: &str) -> Result<String, Error> {
    let name = match printer {
        Some(p) => p.to_string(),
        None => default_printer().ok_or(Error::NoDefaultPrinter)?,
    };
    let doc = load(pdf)?;
    let dc = PrinterDc::open(&name)?;
    let (dpi_x, dpi_y) = (dc.caps(LOGPIXELSX), dc.caps(LOGPIXELSY));
    if dpi_x <= 0 || dpi_y <= 0 {
        return Err(Error::OpenPrinter(name));
    }
    // Where the printable area starts: the bitmap is placed so that the
    // page's corner falls on the paper's corner.
    let (off_x, off_y) = (dc.caps(PHYSICALOFFSETX), dc.caps(PHYSICALOFFSETY));
    // Rendered at the printer's resolution up to 300 dpi (the slip's text
    // and QR code need no more), then stretched by the printer driver.
    let pages = render(
        &doc,
        u32::try_from(dpi_x.min(dpi_y).clamp(72, 300)).unwrap_or(300),
    )?;
    let dibs = pages
        .iter()
        .map(|p| dib(&p.png))
        .collect::<Result<Vec<_>, _>>()?;

    let doc_name = wide(title);
    let info = DOCINFOW {
        cbSize: std::mem::size_of::<DOCINFOW>() as i32,
        lpszDocName: PCWSTR(doc_name.as_ptr()),
        ..Default::default()
    };
    // SAFETY: a live device context; `info` and the title it points to
    // outlive the call.
    let job_id = unsafe { StartDocW(dc.0, &info) };
    if job_id <= 0 {
        return Err(print_error("StartDoc"));
    }
    let mut job = Job {
        dc: &dc,
        ended: false,
    };
    // SAFETY: a live device context; smooth scaling of the page bitmaps.
    unsafe { SetStretchBltMode(dc.0, HALFTONE) };
    for (page, bitmap) in pages.iter().zip(&dibs) {
        // SAFETY: a live device context with a started document.
        if unsafe { StartPage(dc.0) } <= 0 {
            return Err(print_error("StartPage"));
        }
        let bmi = BITMAPINFO {
            bmiHeader: BITMAPINFOHEADER {
                biSize: std::mem::size_of::<BITMAPINFOHEADER>() as u32,
                biWidth: bitmap.width,
                // Negative: rows top to bottom.
                biHeight: -bitmap.height,
                biPlanes: 1,
                biBitCount: 24,
                biCompression: BI_RGB.0,
                ..Default::default()
            },
            ..Default::default()
        };
        let dest_w = (page.width_in * f64::from(dpi_x)).round() as i32;
        let dest_h = (page.height_in * f64::from(dpi_y)).round() as i32;
        // SAFETY: a live device context on a started page; `bits` holds
        // `height` rows of `width` 24-bit pixels padded to 4 bytes, as
        // `bmi` describes, and both outlive the call.
        let lines = unsafe {
            StretchDIBits(
                dc.0,
                -off_x,
                -off_y,
                dest_w,
                dest_h,
                0,
                0,
                bitmap.width,
                bitmap.height,
                Some(bitmap.bits.as_ptr().cast()),
                &bmi,
                DIB_RGB_COLORS,
                SRCCOPY,
            )
        };
        if lines == 0 {
            return Err(print_error("StretchDIBits"));
        }
        // SAFETY: a live device context on a started page.
        if unsafe { EndPage(dc.0) } <= 0 {
            return Err(print_error("EndPage"));
        }
    }
    // SAFETY: a live device context with a started document.
    if unsafe { EndDoc(dc.0) } <= 0 {
        return Err(print_error("EndDoc"));
    }
    job.ended = true;
    Ok(job_id.to_string())
}
