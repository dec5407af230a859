//! The seal registry: electronic seals (电子印章) issued by a seal
//! administrator (印章管理员), checked and stored by the hub, served to
//! every station. See `docs/seals.md`.
//!
//! A seal is made and signed on the administrator's station
//! ([`jingwu_slip::seal::Seal::make`]); the hub only registers it after
//! checking that the caller holds the 印章管理员 post, made the seal with
//! one of their own approved keys, that the maker's signature and the
//! picture verify, that the picture is a real red seal within the size
//! limits, that the seal has not expired, and that it is bound to an
//! approved key of its holder: the person's own key for a personal seal,
//! for a unit seal the key of a person holding a post in that unit.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use jingwu_core::crypto::PublicKey;
use jingwu_proto::SealsDigest;
use jingwu_slip::seal::{check_uploaded_picture, Seal, SealKind};
use jingwu_slip::sealbook::RegisteredSeal;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::db::SealRow;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::{AppState, Auth, JsonBody};
use crate::hub::{Caller, Hub};

/// Longest seal id.
pub const MAX_SEAL_ID: usize = 64;

fn bad(code: ErrorCode, msg: impl Into<String>) -> ApiError {
    ApiError::new(code, msg)
}

fn check_seal_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_SEAL_ID
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(bad(
            ErrorCode::BadSealId,
            "印章编码只能由字母、数字和短横线组成，最长 64 位",
        ))
    }
}

fn kind_text(k: SealKind) -> &'static str {
    match k {
        SealKind::Unit => "unit",
        SealKind::Personal => "personal",
    }
}

impl Hub {
    /// Refuses callers who are not seal administrators with an approved
    /// key.
    fn seal_admin(&self, caller: &Caller) -> Result<(), ApiError> {
        if !self.reg().org.is_seal_admin(&caller.person) {
            return Err(ApiError::new(
                ErrorCode::NotSealAdmin,
                "只有印章管理员可以登记或注销印章",
            ));
        }
        Ok(())
    }

    /// The person whose approved key has this fingerprint, with the key.
    fn approved_key_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Vec<(String, PublicKey)>, ApiError> {
        let mut out = Vec::new();
        for (person, fp, pem) in self.db.approved_keys()? {
            if fp == fingerprint {
                if let Ok(pk) = PublicKey::from_pem(&pem) {
                    out.push((person, pk));
                }
            }
        }
        Ok(out)
    }

    /// Checks and registers a seal made by the caller.
    pub fn register_seal(&self, caller: &Caller, seal: Seal) -> Result<RegisteredSeal, ApiError> {
        self.seal_admin(caller)?;
        let info = &seal.info;
        check_seal_id(&info.id)?;
        if info.maker != caller.person {
            return Err(ApiError::new(
                ErrorCode::SealMakerMismatch,
                "印章的制章人须为登记人本人",
            ));
        }
        let Some(maker_key) = self.key(&caller.person, &info.maker_key)? else {
            return Err(ApiError::new(
                ErrorCode::SealMakerKey,
                "制章人的签名密钥未经批准或已注销",
            ));
        };
        // Signature and picture hash; validity is checked against the
        // hub's clock below (a station's clock may run ahead).
        let to = OffsetDateTime::parse(&info.valid_to, &Rfc3339)
            .map_err(|_| bad(ErrorCode::SealInvalid, "印章有效期截止时间格式错误"))?;
        seal.verify(&maker_key, to)
            .map_err(|e| bad(ErrorCode::SealInvalid, format!("印章校验失败：{e}")))?;
        if to <= OffsetDateTime::now_utc() {
            return Err(bad(
                ErrorCode::SealExpired,
                format!("印章有效期至 {}，已过期，不能登记", info.valid_to),
            ));
        }
        let png = seal
            .image()
            .map_err(|e| bad(ErrorCode::SealInvalid, format!("印章图片无法读取：{e}")))?;
        if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Err(bad(ErrorCode::SealPicture, "印章图片须为 PNG 格式"));
        }
        check_uploaded_picture(&png).map_err(|e| bad(ErrorCode::SealPicture, e.to_string()))?;

        // The holder and the key the seal is bound to.
        let org = &self.reg().org;
        let fp = info.holder_key.fingerprint();
        match info.kind {
            SealKind::Personal => {
                let Some(p) = org.person(&info.holder) else {
                    return Err(bad(
                        ErrorCode::SealHolderUnknown,
                        format!("印章持有人 {} 不在组织机构中", info.holder),
                    ));
                };
                if p.name != info.name {
                    return Err(bad(
                        ErrorCode::SealNameMismatch,
                        format!("个人名章的文字应为持有人姓名“{}”", p.name),
                    ));
                }
                let bound = self.key(&info.holder, &fp)?;
                if bound.as_ref() != Some(&info.holder_key) {
                    return Err(ApiError::new(
                        ErrorCode::SealHolderKey,
                        "印章绑定的密钥不是持有人已批准的签名密钥",
                    ));
                }
            }
            SealKind::Unit => {
                let Some(name) = org.unit_seal_name(&info.holder) else {
                    return Err(bad(
                        ErrorCode::SealHolderUnknown,
                        format!("印章所属单位 {} 不在组织机构中", info.holder),
                    ));
                };
                if name != info.name {
                    return Err(bad(
                        ErrorCode::SealNameMismatch,
                        format!("单位印章的文字应为“{name}”"),
                    ));
                }
                let keeper =
                    self.approved_key_by_fingerprint(&fp)?
                        .into_iter()
                        .any(|(person, pk)| {
                            pk == info.holder_key && org.is_member(&person, &info.holder)
                        });
                if !keeper {
                    return Err(ApiError::new(
                        ErrorCode::SealHolderKey,
                        "单位印章须绑定该单位在职人员已批准的签名密钥",
                    ));
                }
            }
        }

        let registered_at = crate::now_rfc3339();
        let row = SealRow {
            id: info.id.clone(),
            kind: kind_text(info.kind).to_string(),
            holder: info.holder.clone(),
            holder_key: fp,
            seal_json: serde_json::to_string(&seal)
                .map_err(|e| ApiError::internal(format!("印章无法编码：{e}")))?,
            registered_at: registered_at.clone(),
            registered_by: caller.person.clone(),
            revoked_at: None,
            revoked_by: None,
        };
        if !self.db.insert_seal(&row)? {
            return Err(ApiError::new(
                ErrorCode::SealExists,
                format!("印章编码 {} 已被登记", info.id),
            ));
        }
        tracing::info!(seal = %row.id, holder = %row.holder, by = %caller.person, "seal registered");
        Ok(RegisteredSeal {
            seal,
            registered_at,
            revoked_at: None,
            revoked_by: None,
        })
    }

    /// Every registered seal, revoked ones included (old slips still show
    /// them).
    pub fn registered_seals(&self) -> Result<Vec<RegisteredSeal>, ApiError> {
        self.db
            .seals()?
            .into_iter()
            .map(|r| {
                let seal: Seal = serde_json::from_str(&r.seal_json).map_err(|e| {
                    ApiError::internal(format!("已登记的印章 {} 无法解析：{e}", r.id))
                })?;
                Ok(RegisteredSeal {
                    seal,
                    registered_at: r.registered_at,
                    revoked_at: r.revoked_at,
                    revoked_by: r.revoked_by,
                })
            })
            .collect()
    }

    /// SM3 over every seal's id and revocation: changes whenever a seal is
    /// registered or revoked, so stations fetch the pictures only then.
    pub fn seals_digest(&self) -> Result<String, ApiError> {
        let mut text = String::new();
        for r in self.db.seals()? {
            text.push_str(&r.id);
            text.push('|');
            text.push_str(r.revoked_at.as_deref().unwrap_or(""));
            text.push('\n');
        }
        Ok(jingwu_core::crypto::sm3_hex(text.as_bytes()))
    }

    /// Revokes a seal: it stamps nothing decided after now.
    pub fn revoke_seal(&self, caller: &Caller, id: &str) -> Result<RegisteredSeal, ApiError> {
        self.seal_admin(caller)?;
        check_seal_id(id)?;
        let has_key = self
            .db
            .approved_keys()?
            .iter()
            .any(|(p, _, _)| p == &caller.person);
        if !has_key {
            return Err(ApiError::new(
                ErrorCode::SealMakerKey,
                "印章管理员须有已批准的签名密钥才能注销印章",
            ));
        }
        let now = crate::now_rfc3339();
        if !self.db.revoke_seal(id, &caller.person, &now)? {
            let exists = self.db.seals()?.into_iter().any(|r| r.id == id);
            return Err(if exists {
                ApiError::new(ErrorCode::SealRevoked, format!("印章 {id} 已经注销"))
            } else {
                ApiError::not_found(format!("没有印章 {id}"))
            });
        }
        tracing::info!(seal = %id, by = %caller.person, "seal revoked");
        self.registered_seals()?
            .into_iter()
            .find(|s| s.seal.info.id == id)
            .ok_or_else(|| ApiError::internal("注销后找不到该印章"))
    }
}

// ----- HTTP -----------------------------------------------------------------

/// A seal administrator registers a seal made and signed on their station
/// (body: the seal JSON, see docs/seals.md).
#[utoipa::path(post, path = "/api/seals",
    request_body(content = String, description = "the seal (jingwu-seal/1 JSON: info, image_png, maker_signature)", content_type = "application/json"),
    responses((status = 201, description = "the registered seal"),
        (status = 400, description = "malformed seal, bad signature or picture, expired", body = ErrorBody),
        (status = 403, description = "not a seal administrator, or a key not approved", body = ErrorBody),
        (status = 409, description = "the seal id is taken", body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn register(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(seal): JsonBody<Seal>,
) -> Result<(StatusCode, Json<RegisteredSeal>), ApiError> {
    let r = crate::http::blocking(move || hub.register_seal(&c, seal)).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Every registered seal with its picture and revocation, for stations.
#[utoipa::path(get, path = "/api/seals",
    responses((status = 200, description = "registered seals")), security(("bearer" = [])))]
pub(crate) async fn list(
    State(hub): State<AppState>,
    Auth(_c): Auth,
) -> Result<Json<Vec<RegisteredSeal>>, ApiError> {
    crate::http::blocking(move || hub.registered_seals().map(Json)).await
}

/// The registry's digest (`{"digest": hex}`): stations fetch
/// `GET /api/seals` only when it changed since their last sync.
#[utoipa::path(get, path = "/api/seals/digest",
    responses((status = 200, body = SealsDigest)), security(("bearer" = [])))]
pub(crate) async fn digest(
    State(hub): State<AppState>,
    Auth(_c): Auth,
) -> Result<Json<SealsDigest>, ApiError> {
    crate::http::blocking(move || {
        Ok(Json(SealsDigest {
            digest: hub.seals_digest()?,
        }))
    })
    .await
}

/// A seal administrator revokes a seal.
#[utoipa::path(post, path = "/api/seals/{id}/revoke", params(("id" = String, Path)),
    responses((status = 200, description = "the revoked seal"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn revoke(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> Result<Json<RegisteredSeal>, ApiError> {
    crate::http::blocking(move || hub.revoke_seal(&c, &id).map(Json)).await
}
