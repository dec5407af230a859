//! Result slips (审批结果通知单): the PDF, electronic seals, the
//! verification QR code, and printing.

pub mod font;
pub mod pdf;
pub mod print;
pub mod qr;
pub mod seal;
pub mod sealbook;
pub mod slip;
