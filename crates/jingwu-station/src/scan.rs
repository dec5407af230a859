//! Scanned forms into cases: the scan pipeline ([`jingwu_scan`]) on a
//! file, each processed page stored as a content-addressed attachment and
//! attached by a signed event, the original file kept on the station only.
//!
//! What travels to the hub is what events name: the processed pages. The
//! original is stored in the store's `scan_originals` table, linked from
//! each page it gave (see [`jingwu_store::Store::page_origin`]), and never
//! named by an event, so [`Station::sync`] — which uploads only
//! attachments of pending `Attach` events — never sends it.
//!
//! Blank forms printed by the station carry the QR `JWF1:<form id>`; the
//! form id of a draft is [`Station::form_id`] (its case id, 32 upper-case
//! hex digits), so a scan of the filled-in form finds its draft again
//! ([`Station::case_for_form`], [`Station::import_matched`]).

use std::path::Path;

use jingwu_core::case::CaseState;
use jingwu_core::crypto::sm3_hex;
use jingwu_core::event::Action;
use jingwu_core::form::{AttachmentRef, CaseType};
use jingwu_scan::{Options, PageResult, Rect};
use jingwu_store::{Batch, LocalOriginal, NewAttachment};
use serde::Serialize;
use uuid::Uuid;

use crate::station::{signing_time, sniff_mime, Result, Station, StationError};

/// The attachments field of a 户口变更 form that holds the scans.
pub const SCANS_FIELD: &str = "scans";

/// One page of an import, as attached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanPage {
    /// 1-based page of the scanned file.
    pub page: u32,
    /// SM3 of the processed JPEG (the attachment).
    pub sm3: String,
    /// The attachment's name.
    pub name: String,
    /// Size of the processed JPEG.
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    /// Detected skew, corrected in the attachment (counter-clockwise
    /// positive).
    pub skew_degrees: f32,
    /// Whether a red seal impression was found, and where (pixels of the
    /// processed page).
    pub stamp_present: bool,
    pub stamp_bbox: Option<Rect>,
    /// QR payload and blank-form id, if any.
    pub qr: Option<String>,
    pub form_id: Option<String>,
    /// Messages for the officer (e.g. 未检测到村（居）委会印章): warnings,
    /// not refusals.
    pub warnings: Vec<String>,
    /// Processing time of the page.
    pub millis: u64,
}

/// What [`Station::import_scan`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanImport {
    pub case: Uuid,
    pub field: String,
    /// The scanned file's name.
    pub source: String,
    /// SM3 of the original file (kept on this station only).
    pub original_sm3: String,
    /// The pages attached, in order.
    pub pages: Vec<ScanPage>,
    /// Pages left out because they were identical to an earlier page of
    /// the same file.
    pub duplicates: Vec<u32>,
}

impl ScanPage {
    /// The summary of a processed page stored as `sm3` under `name`.
    pub fn from_result(p: &PageResult, sm3: String, name: String) -> ScanPage {
        ScanPage {
            page: p.page,
            sm3,
            name,
            bytes: p.jpeg.len() as u64,
            width: p.width,
            height: p.height,
            skew_degrees: p.skew_degrees,
            stamp_present: p.stamp.present,
            stamp_bbox: p.stamp.bbox,
            qr: p.qr.clone(),
            form_id: p.form_id.clone(),
            warnings: p.warnings.clone(),
            millis: p.millis,
        }
    }
}

/// A scanned file read and run through the pipeline, not yet stored.
pub struct ProcessedFile {
    /// The file name (without directories).
    pub name: String,
    /// The original bytes.
    pub bytes: Vec<u8>,
    /// The pages, in order.
    pub pages: Vec<PageResult>,
}

/// Reads and processes a file with the station's pipeline options. A bad
/// file is refused with the pipeline's Chinese message.
pub fn process(file: &Path) -> Result<ProcessedFile> {
    let opts = Options::default();
    let bytes = jingwu_scan::read_file(file, &opts)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "扫描件".into());
    let pages = jingwu_scan::process_bytes(&bytes, &name, &opts)?;
    Ok(ProcessedFile { name, bytes, pages })
}

/// The attachment name of page `page` of the scanned file `source`
/// (`登记表-第1页.jpg`).
pub fn page_name(source: &str, page: u32) -> String {
    let stem = Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "扫描件".into());
    format!("{stem}-第{page}页.jpg")
}

impl Station {
    /// Runs the scan pipeline on `file` and attaches each processed page
    /// to `field` of `case`, in page order, one signed `Attach` event per
    /// page; the original file is kept on this station (never sent). A
    /// file the pipeline refuses, or an attach the case's rules refuse,
    /// records nothing.
    pub fn import_scan(
        &mut self,
        pin: &str,
        case: Uuid,
        field: &str,
        file: &Path,
    ) -> Result<ScanImport> {
        // A wrong PIN or an unknown case fails before the work.
        self.signer(pin)?;
        self.existing_case(&case)?;
        let processed = process(file)?;
        self.attach_processed(pin, case, field, &processed, &processed.pages)
    }

    /// Stores and attaches already processed pages of one file.
    pub fn attach_processed(
        &mut self,
        pin: &str,
        case: Uuid,
        field: &str,
        file: &ProcessedFile,
        pages: &[PageResult],
    ) -> Result<ScanImport> {
        let (person, key) = self.signer(pin)?;
        let original_sm3 = sm3_hex(&file.bytes);
        let mime = sniff_mime(&file.bytes).unwrap_or("application/octet-stream");
        let mut out = ScanImport {
            case,
            field: field.to_string(),
            source: file.name.clone(),
            original_sm3: original_sm3.clone(),
            pages: Vec::new(),
            duplicates: Vec::new(),
        };
        let mut batch = Batch {
            original: Some(LocalOriginal {
                bytes: &file.bytes,
                name: &file.name,
                mime,
            }),
            ..Batch::default()
        };
        for p in pages {
            let sm3 = sm3_hex(&p.jpeg);
            if out.pages.iter().any(|x| x.sm3 == sm3) {
                out.duplicates.push(p.page);
                continue;
            }
            let name = page_name(&file.name, p.page);
            batch.attachments.push(NewAttachment {
                bytes: &p.jpeg,
                mime: "image/jpeg",
            });
            batch
                .links
                .push((sm3.clone(), original_sm3.clone(), p.page));
            batch.actions.push(Action::Attach {
                field: field.to_string(),
                attachment: AttachmentRef {
                    sm3: sm3.clone(),
                    name: name.clone(),
                    mime: "image/jpeg".into(),
                    size: p.jpeg.len() as u64,
                    pages: Some(1),
                },
            });
            out.pages.push(ScanPage::from_result(p, sm3, name));
        }
        let at = signing_time(self.store.case(&case)?.as_ref())?;
        self.store
            .record_batch(&self.reg, &key, &person, case, &batch, at)?;
        Ok(out)
    }

    /// Turns an attached page by `quarter_turns` × 90° clockwise (1, 2 or
    /// 3): the turned page is attached in the same position and the old
    /// one removed, in one step. Returns the new page.
    pub fn rotate_page(
        &mut self,
        pin: &str,
        case: Uuid,
        field: &str,
        sm3: &str,
        quarter_turns: u8,
    ) -> Result<AttachmentRef> {
        let (person, key) = self.signer(pin)?;
        let state = self.existing_case(&case)?;
        let list = attachments(&state, field);
        let Some(pos) = list.iter().position(|a| a.sm3 == sm3) else {
            return Err(StationError::Usage("要旋转的页面不在该附件栏中".into()));
        };
        let old = list[pos].clone();
        let Some(bytes) = self.store.attachment(sm3)? else {
            return Err(StationError::Usage(format!(
                "本地缺少附件“{}”的内容",
                old.name
            )));
        };
        let turned =
            jingwu_scan::rotate_page(&bytes, quarter_turns, Options::default().max_output_bytes)?;
        let new_sm3 = sm3_hex(&turned.bytes);
        if list.iter().any(|a| a.sm3 == new_sm3) {
            return Err(StationError::Usage("旋转后的页面已在附件栏中".into()));
        }
        let new = AttachmentRef {
            sm3: new_sm3.clone(),
            name: old.name.clone(),
            mime: "image/jpeg".into(),
            size: turned.bytes.len() as u64,
            pages: old.pages,
        };
        let mut order: Vec<String> = list.iter().map(|a| a.sm3.clone()).collect();
        order[pos] = new_sm3.clone();
        let mut batch = Batch {
            attachments: vec![NewAttachment {
                bytes: &turned.bytes,
                mime: "image/jpeg",
            }],
            actions: vec![
                Action::Attach {
                    field: field.to_string(),
                    attachment: new.clone(),
                },
                Action::Detach {
                    field: field.to_string(),
                    sm3: sm3.to_string(),
                },
            ],
            ..Batch::default()
        };
        if pos + 1 != list.len() {
            batch.actions.push(Action::ArrangeAttachments {
                field: field.to_string(),
                order,
            });
        }
        if let Some(o) = self.store.page_origin(sm3)? {
            batch.links.push((new_sm3, o.original_sm3, o.page));
        }
        let at = signing_time(self.store.case(&case)?.as_ref())?;
        self.store
            .record_batch(&self.reg, &key, &person, case, &batch, at)?;
        Ok(new)
    }

    /// Puts the pages of `field` in the order given (every page's SM3
    /// exactly once).
    pub fn arrange_pages(
        &mut self,
        pin: &str,
        case: Uuid,
        field: &str,
        order: Vec<String>,
    ) -> Result<CaseState> {
        self.act(
            pin,
            case,
            Action::ArrangeAttachments {
                field: field.to_string(),
                order,
            },
        )
    }

    /// The form id printed (as QR `JWF1:<id>`) on the blank form of a
    /// draft: the case id as 32 upper-case hex digits.
    pub fn form_id(case: &Uuid) -> String {
        case.simple().to_string().to_ascii_uppercase()
    }

    /// The local 户口变更 case a blank form id names, if any.
    pub fn case_for_form(&self, form_id: &str) -> Result<Option<Uuid>> {
        if form_id.len() != 32 || !form_id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Ok(id) = Uuid::try_parse(form_id) else {
            return Ok(None);
        };
        Ok(self
            .store
            .case(&id)?
            .filter(|s| s.case_type == CaseType::HukouChange)
            .map(|_| id))
    }

    /// Runs the pipeline on `file` and attaches its pages to the drafts
    /// their QR codes name: a page with a blank-form QR starts that
    /// form's pages; pages without a QR follow the page before them.
    /// Pages no known form claims are returned with `None` and not
    /// attached. Each matched group is recorded all or nothing; a file the
    /// pipeline refuses records nothing.
    pub fn import_matched(
        &mut self,
        pin: &str,
        file: &Path,
    ) -> Result<Vec<(Option<Uuid>, ScanImport)>> {
        self.signer(pin)?;
        let processed = process(file)?;
        self.attach_matched(pin, &processed)
    }

    /// [`Station::import_matched`] on an already processed file.
    pub fn attach_matched(
        &mut self,
        pin: &str,
        file: &ProcessedFile,
    ) -> Result<Vec<(Option<Uuid>, ScanImport)>> {
        let mut groups: Vec<(Option<Uuid>, Vec<PageResult>)> = Vec::new();
        for p in &file.pages {
            let target = match &p.form_id {
                Some(id) => Some(self.case_for_form(id)?),
                None => None,
            };
            match (target, groups.last_mut()) {
                // No QR: continues the previous page's document.
                (None, Some(last)) => last.1.push(p.clone()),
                (None, None) => groups.push((None, vec![p.clone()])),
                (Some(case), _) => groups.push((case, vec![p.clone()])),
            }
        }
        let mut out = Vec::new();
        for (case, pages) in groups {
            match case {
                Some(case) => {
                    let imp = self.attach_processed(pin, case, SCANS_FIELD, file, &pages)?;
                    out.push((Some(case), imp));
                }
                None => out.push((
                    None,
                    ScanImport {
                        case: Uuid::nil(),
                        field: String::new(),
                        source: file.name.clone(),
                        original_sm3: sm3_hex(&file.bytes),
                        pages: pages
                            .iter()
                            .map(|p| {
                                ScanPage::from_result(
                                    p,
                                    sm3_hex(&p.jpeg),
                                    page_name(&file.name, p.page),
                                )
                            })
                            .collect(),
                        duplicates: Vec::new(),
                    },
                )),
            }
        }
        Ok(out)
    }

    fn existing_case(&self, case: &Uuid) -> Result<CaseState> {
        self.store
            .case(case)?
            .ok_or_else(|| StationError::Usage("本地没有该案件，请先同步".into()))
    }
}

/// The attachments of a field of a case (empty when unset).
pub fn attachments(state: &CaseState, field: &str) -> Vec<AttachmentRef> {
    state
        .form
        .get(field)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}
