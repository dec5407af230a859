//! Why a file was refused. Every message is shown to the officer as is.

/// Errors of [`crate::process_file`] and [`crate::process_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("文件为空（0 字节），请重新扫描")]
    Empty,
    #[error("文件过大：{size_mb} MB，单个扫描文件最大 {max_mb} MB")]
    TooLarge { size_mb: u64, max_mb: u64 },
    #[error(
        "文件不是图片或 PDF（看起来是{kind}），已拒绝；请导入扫描仪生成的 JPEG、PNG、TIFF 或 PDF"
    )]
    NotAnImage { kind: &'static str },
    #[error("无法识别的文件格式，只支持 JPEG、PNG、TIFF 和 PDF（不看扩展名，只看文件内容）")]
    UnknownFormat,
    #[error(
        "图片尺寸 {width}×{height} 像素超出上限（每边最多 {max_side} 像素、总共最多 {max_mpx} 百万像素），\
         可能是损坏或恶意文件；请用 200–300 dpi 重新扫描"
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_side: u32,
        max_mpx: u64,
    },
    #[error("{format} 图片解码所需内存超出上限，可能是损坏或恶意文件")]
    TooMuchMemory { format: &'static str },
    #[error("{format} 图片数据不完整（文件被截断或未传完），请重新扫描或重新复制")]
    Truncated { format: &'static str },
    #[error("无法解码 {format} 图片：{reason}")]
    Decode {
        format: &'static str,
        reason: String,
    },
    #[error("无法读取 PDF：{0}")]
    Pdf(String),
    #[error(
        "PDF 第 {page} 页没有扫描图像；只支持扫描仪生成的每页一张图像的 PDF，请直接导入扫描图片"
    )]
    PdfPageWithoutImage { page: u32 },
    #[error("PDF 第 {page} 页的图像格式不受支持（{detail}）")]
    PdfImageUnsupported { page: u32, detail: String },
    #[error("TIFF 第 {page} 页的像素格式不受支持（{detail}）")]
    TiffUnsupported { page: u32, detail: String },
    #[error("文件共 {pages} 页以上，超过上限 {max} 页，请分成几个文件扫描")]
    TooManyPages { pages: usize, max: usize },
    #[error("文件中没有任何页面")]
    NoPages,
    #[error("无法读取文件 {path}：{reason}")]
    Io { path: String, reason: String },
    #[error("只能旋转 90°、180° 或 270°（{0} 个四分之一圈无效）")]
    BadRotation(u8),
    #[error("JPEG 压缩失败：{0}")]
    Encode(String),
}
