//! Registered seals at the station: issuing and revoking them (a seal
//! administrator's station), fetching them from the hub (every station;
//! each checked against its maker's key before it is stored), and slips
//! stamped with them. See `docs/seals.md`.

use std::path::Path;

use jingwu_core::crypto::{PublicKey, Signer};
use jingwu_core::org::Org;
use jingwu_core::registry::Registry;
use jingwu_core::SHANGHAI;
use jingwu_slip::font::CjkFont;
use jingwu_slip::pdf::FontSet;
use jingwu_slip::seal::{
    check_uploaded_picture, png_bytes, render_personal_seal, render_unit_seal, Seal, SealDraft,
    SealError, SealKind,
};
use jingwu_slip::sealbook::{RegisteredSeal, SealBook, SLIP_PERSONAL_PX, SLIP_UNIT_PX};
use jingwu_store::{Store, StoredSeal};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::client::HubClient;
use crate::station::{Result, Station, StationError};

/// Store meta key: the hub's seal registry digest at the last fetch.
const SEALS_DIGEST: &str = "seals_digest";

/// Longest validity of a seal, in days (ten years).
pub const MAX_VALID_DAYS: u32 = 3650;

/// Posts that head a unit, in the order tried when no keeper is named
/// for a unit seal.
pub const HEAD_POSTS: &[&str] = &["局长", "所长", "支队长", "大队长", "股长", "主任"];

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(StationError::Usage(msg.into()))
}

fn seal_err(e: SealError) -> StationError {
    StationError::Usage(e.to_string())
}

/// What a seal administrator asks for.
#[derive(Debug, Clone, Default)]
pub struct IssueRequest {
    /// A person id (personal seal) or a unit code (unit seal).
    pub holder: String,
    /// An uploaded picture (PNG or JPEG); drawn from the name when absent.
    pub image: Option<Vec<u8>>,
    pub valid_days: u32,
    /// Unit seals: the person whose key holds the seal (default: the
    /// unit's head).
    pub keeper: Option<String>,
    /// The fingerprint of the bound key, when its owner has several
    /// approved keys.
    pub key: Option<String>,
    /// Unit seals drawn from the name: the horizontal text under the star.
    pub bottom_text: Option<String>,
}

/// The default keeper of a unit's seal: the first holder of a head post.
pub fn unit_head(org: &Org, unit: &str) -> Option<String> {
    HEAD_POSTS
        .iter()
        .find_map(|post| org.holders(unit, post).first().map(|p| p.id.clone()))
}

fn to_stored(r: &RegisteredSeal) -> Result<StoredSeal> {
    let info = &r.seal.info;
    Ok(StoredSeal {
        id: info.id.clone(),
        kind: match info.kind {
            SealKind::Unit => "unit".into(),
            SealKind::Personal => "personal".into(),
        },
        holder: info.holder.clone(),
        holder_key: info.holder_key.fingerprint(),
        seal_json: serde_json::to_string(&r.seal)
            .map_err(|e| StationError::Usage(format!("印章无法编码：{e}")))?,
        registered_at: r.registered_at.clone(),
        revoked_at: r.revoked_at.clone(),
        revoked_by: r.revoked_by.clone(),
    })
}

/// Checks a seal fetched from the hub: the maker holds the seal
/// administrator post, and the maker's signature and the picture verify
/// against the maker's key.
pub fn check_fetched(reg: &Registry, r: &RegisteredSeal, maker_key: &PublicKey) -> Result<()> {
    let info = &r.seal.info;
    if !reg.org.is_seal_admin(&info.maker) {
        return usage(format!(
            "印章 {} 的制章人 {} 不是印章管理员",
            info.id, info.maker
        ));
    }
    let to = OffsetDateTime::parse(&info.valid_to, &Rfc3339)
        .map_err(|_| StationError::Usage(format!("印章 {} 的有效期格式错误", info.id)))?;
    r.seal
        .verify(maker_key, to)
        .map_err(|e| StationError::Usage(format!("印章 {}：{e}", info.id)))
}

/// The registered seals in a store.
pub fn seal_book(store: &Store) -> Result<SealBook> {
    let mut out = Vec::new();
    for s in store.seals()? {
        let seal: Seal = serde_json::from_str(&s.seal_json)
            .map_err(|e| StationError::Usage(format!("本地印章 {} 已损坏：{e}", s.id)))?;
        out.push(RegisteredSeal {
            seal,
            registered_at: s.registered_at,
            revoked_at: s.revoked_at,
            revoked_by: s.revoked_by,
        });
    }
    Ok(SealBook::new(out))
}

/// The slip PDF of a decided case in `store`, its events checked first,
/// stamped with the registered seals the store holds (see
/// [`jingwu_slip::slip::hukou_slip_sealed`]). The desktop app calls this.
pub fn slip_pdf(
    store: &Store,
    reg: &Registry,
    case: &Uuid,
    font: &CjkFont,
    fonts: &FontSet,
) -> Result<Vec<u8>> {
    let Some(state) = store.case(case)? else {
        return usage("本地库中没有该案件");
    };
    let events = store.verified_events(case)?;
    let book = seal_book(store)?;
    // The hub's receipt times (each verified against the hub's key) for
    // the printed times and seal validity; device times only where none.
    let hub_times = store.receipt_times(case)?;
    jingwu_slip::slip::hukou_slip_pdf_timed(&state, &events, reg, font, fonts, &book, &hub_times)
        .map_err(|e| StationError::Usage(e.to_string()))
}

fn seal_id(holder: &str, now: OffsetDateTime) -> Result<String> {
    let mut b = [0u8; 3];
    getrandom::fill(&mut b).map_err(|_| StationError::Usage("无法取得随机数".into()))?;
    Ok(format!(
        "{holder}-{:04}{:02}{:02}-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        hex::encode(b)
    ))
}

impl Station {
    /// A seal administrator makes, signs (with their own key, unlocked by
    /// `pin`) and registers a seal at the hub; the registered seal is
    /// stored here too.
    pub async fn issue_seal(
        &mut self,
        pin: &str,
        req: IssueRequest,
        font: Option<&CjkFont>,
    ) -> Result<RegisteredSeal> {
        let me = self.person()?;
        let org = &self.reg.org;
        if !org.is_seal_admin(&me) {
            return usage(format!("{me} 不是印章管理员，不能制发印章"));
        }
        if req.valid_days == 0 || req.valid_days > MAX_VALID_DAYS {
            return usage(format!(
                "有效天数应在 1–{MAX_VALID_DAYS} 之间（收到 {}）",
                req.valid_days
            ));
        }
        let (kind, name, owner) = if let Some(p) = org.person(&req.holder) {
            if req.keeper.is_some() {
                return usage("--keeper 只用于单位印章");
            }
            (SealKind::Personal, p.name.clone(), p.id.clone())
        } else if let Some(name) = org.unit_seal_name(&req.holder) {
            let owner = match &req.keeper {
                Some(k) => k.clone(),
                None => unit_head(org, &req.holder).ok_or_else(|| {
                    StationError::Usage(format!(
                        "单位 {} 没有负责人，请用 --keeper 指定保管该单位印章的人员",
                        req.holder
                    ))
                })?,
            };
            if !org.is_member(&owner, &req.holder) {
                return usage(format!(
                    "{owner} 不在单位 {} 任职，不能保管该单位印章",
                    req.holder
                ));
            }
            (SealKind::Unit, name, owner)
        } else {
            return usage(format!("“{}”既不是人员编号，也不是单位编码", req.holder));
        };

        let client = self.client()?;
        let keys: Vec<PublicKey> = client
            .keys()
            .await?
            .into_iter()
            .filter(|k| k.person == owner)
            .filter(|k| req.key.as_ref().is_none_or(|f| &k.fingerprint == f))
            .filter_map(|k| PublicKey::from_pem(&k.pem).ok())
            .collect();
        let holder_key = match keys.as_slice() {
            [k] => k.clone(),
            [] => {
                return usage(match &req.key {
                    Some(f) => format!("{owner} 没有指纹为 {f} 的已批准密钥"),
                    None => format!("{owner} 还没有经县局批准的签名密钥，不能为其制发印章"),
                })
            }
            _ => {
                return usage(format!(
                    "{owner} 有多把已批准的密钥，请用 --key 指定其中一把的公钥指纹"
                ))
            }
        };

        let png = match &req.image {
            Some(bytes) => check_uploaded_picture(bytes).map_err(seal_err)?,
            None => {
                let Some(font) = font else {
                    return usage("没有找到中文字体，无法生成印章图片；请用 --image 上传印章图片");
                };
                let img = match kind {
                    SealKind::Personal => render_personal_seal(&name, font, SLIP_PERSONAL_PX),
                    SealKind::Unit => render_unit_seal(
                        &name,
                        Some(req.bottom_text.as_deref().unwrap_or("户口专用章")),
                        font,
                        SLIP_UNIT_PX,
                    ),
                }
                .map_err(seal_err)?;
                png_bytes(&img).map_err(seal_err)?
            }
        };

        let (person, maker) = self.signer(pin)?;
        let now = OffsetDateTime::now_utc().to_offset(SHANGHAI);
        let to = now + Duration::days(i64::from(req.valid_days));
        let fmt = |t: OffsetDateTime| {
            t.replace_nanosecond(0)
                .unwrap_or(t)
                .format(&Rfc3339)
                .map_err(|e| StationError::Usage(e.to_string()))
        };
        let draft = SealDraft {
            id: seal_id(&req.holder, now)?,
            kind,
            name,
            holder: req.holder.clone(),
            holder_key,
            valid_from: fmt(now)?,
            valid_to: fmt(to)?,
            maker: person,
            maker_key: maker.public_key().fingerprint(),
        };
        let seal = Seal::make(draft, png, &maker).map_err(seal_err)?;
        let registered = client.register_seal(&seal).await?;
        self.store.save_seal(&to_stored(&registered)?)?;
        Ok(registered)
    }

    /// A seal administrator revokes a seal at the hub (and here).
    pub async fn revoke_seal(&mut self, id: &str) -> Result<RegisteredSeal> {
        let client = self.client()?;
        let r = client.revoke_seal(id).await?;
        self.store.save_seal(&to_stored(&r)?)?;
        Ok(r)
    }

    /// Fetches every registered seal from the hub and stores those that
    /// verify against their maker's key. Returns (stored, refused with
    /// reasons).
    pub async fn sync_seals(&mut self, client: &HubClient) -> Result<(usize, Vec<String>)> {
        // Pictures travel only when the registry changed (slow links).
        let digest = client.seals_digest().await?;
        if self.store.meta(SEALS_DIGEST)?.as_deref() == Some(digest.as_str()) {
            return Ok((0, Vec::new()));
        }
        let seals = client.seals().await?;
        let mut refreshed = false;
        let mut stored = 0;
        let mut refused = Vec::new();
        for r in &seals {
            let info = &r.seal.info;
            let mut key = self.store.public_key(&info.maker, &info.maker_key)?;
            if key.is_none() && !refreshed {
                for k in client.keys().await? {
                    if let Ok(pk) = PublicKey::from_pem(&k.pem) {
                        if pk.fingerprint() == k.fingerprint {
                            self.store.save_public_key(&k.person, &pk)?;
                        }
                    }
                }
                refreshed = true;
                key = self.store.public_key(&info.maker, &info.maker_key)?;
            }
            let checked = match &key {
                Some(k) => check_fetched(&self.reg, r, k),
                None => usage(format!(
                    "印章 {}：没有制章人 {} 的已批准公钥，无法校验",
                    info.id, info.maker
                )),
            };
            match checked {
                Ok(()) => {
                    self.store.save_seal(&to_stored(r)?)?;
                    stored += 1;
                }
                Err(e) => refused.push(e.to_string()),
            }
        }
        // A refused seal is looked at again next time (its maker's key may
        // arrive later).
        if refused.is_empty() {
            self.store.set_meta(SEALS_DIGEST, Some(&digest))?;
        }
        Ok((stored, refused))
    }

    /// The registered seals this station holds.
    pub fn seal_book(&self) -> Result<SealBook> {
        seal_book(&self.store)
    }
}

/// Reads a seal picture file to upload, refusing oversized files before
/// reading them; its content is checked by [`Station::issue_seal`].
pub fn read_picture(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| StationError::Usage(format!("无法读取 {}：{e}", path.display())))?;
    if meta.len() > jingwu_slip::seal::MAX_UPLOAD_BYTES as u64 {
        return usage(format!(
            "印章图片过大：{} 字节，最大 {} 字节",
            meta.len(),
            jingwu_slip::seal::MAX_UPLOAD_BYTES
        ));
    }
    std::fs::read(path)
        .map_err(|e| StationError::Usage(format!("无法读取 {}：{e}", path.display())))
}
