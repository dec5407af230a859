//! The error body of every refused request, and the one list of its codes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $text:literal, )*) => {
        /// The stable, machine-readable code of a hub error (`code` in
        /// [`ErrorBody`]): every code the hub sends, by name. On the wire it
        /// is the snake_case string (`"stale_head"`); a string this build
        /// does not know parses as [`ErrorCode::Unknown`], so a newer hub's
        /// codes never break an older station.
        ///
        /// The HTTP status of each code is the hub's business (one mapping
        /// in `jingwu_hub::error::status`), not this crate's.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant, )*
            /// A code this build does not know: a newer hub's, or `http`
            /// when an answer carried no error body at all (e.g. a proxy's
            /// page). The hub itself never sends it.
            Unknown(String),
        }

        impl ErrorCode {
            /// Every code the hub sends (all but [`ErrorCode::Unknown`]).
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The code as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$variant => $text, )*
                    ErrorCode::Unknown(s) => s,
                }
            }

            /// The code of a wire string; never fails (see
            /// [`ErrorCode::Unknown`]).
            pub fn parse(s: &str) -> ErrorCode {
                match s {
                    $( $text => ErrorCode::$variant, )*
                    other => ErrorCode::Unknown(other.to_string()),
                }
            }
        }
    };
}

error_codes! {
    // ----- sessions and accounts -----
    /// Not logged in, or the session ended (logout, revocation, idle or
    /// absolute limit), or wrong account or password: log in again.
    Unauthorized = "unauthorized",
    /// The account is disabled.
    Disabled = "disabled",
    /// Only an administrator may do this.
    NotAdmin = "not_admin",
    /// Too many failed logins of the account or from the address; wait
    /// (`Retry-After`).
    LockedOut = "locked_out",
    /// Too many password checks at once; try again in a second.
    Busy = "busy",
    /// The new password does not follow the password rule.
    WeakPassword = "weak_password",
    /// An account name that is empty, too long or has blanks.
    BadPerson = "bad_person",
    /// The account exists already.
    UserExists = "user_exists",

    // ----- enrolment -----
    /// An empty or too long device id.
    BadDevice = "bad_device",
    /// A public key that does not parse.
    BadKey = "bad_key",
    /// Another enrolment already has this key and device's case-number
    /// issuer.
    KeyIssuerTaken = "key_issuer_taken",
    /// A decision that is none of the allowed ones (an enrolment's
    /// approve / reject / revoke; a browser approver's opinion).
    BadDecision = "bad_decision",
    /// The enrolment is not in a state that allows the decision.
    EnrolmentState = "enrolment_state",

    // ----- requests -----
    /// The body is not declared as JSON.
    NotJson = "not_json",
    /// The body is not JSON of the expected shape.
    MalformedJson = "malformed_json",
    /// The body could not be read (too large, or broken off).
    Body = "body",
    /// A case id that is not a UUID.
    BadId = "bad_id",
    /// No such thing, or not for the caller (the same answer on purpose).
    NotFound = "not_found",

    // ----- pushing events -----
    /// More events in one push than the hub takes.
    BatchTooLarge = "batch_too_large",
    /// An event that is not canonical JSON of a well-formed event, or not
    /// base64.
    MalformedEvent = "malformed_event",
    /// The event's author is not the caller.
    NotAuthor = "not_author",
    /// The signing key is not enrolled and approved.
    KeyNotEnrolled = "key_not_enrolled",
    /// A case's first event from a device its key is not enrolled on.
    DeviceNotEnrolled = "device_not_enrolled",
    /// The SM2 signature does not verify.
    BadSignature = "bad_signature",
    /// An event id already stored with different content.
    IdReused = "id_reused",
    /// The case is not visible to the author.
    OutOfScope = "out_of_scope",
    /// The event does not extend the case's head; the body carries `head`
    /// and `next_seq`. Fetch the hub's log of the case.
    StaleHead = "stale_head",
    /// A second `create` of a case.
    AlreadyCreated = "already_created",
    /// An event of a case the hub does not have (its earlier events
    /// first).
    UnknownCase = "unknown_case",
    /// The event names another case than its chain.
    WrongCase = "wrong_case",
    /// The case's rules do not allow this person this action now.
    NotAllowed = "not_allowed",
    /// The form or the action's content does not validate.
    Invalid = "invalid",
    /// The event is dated before the case's previous event.
    ClockPast = "clock_past",
    /// The event is dated ahead of the hub's clock beyond the tolerance.
    ClockFuture = "clock_future",
    /// A new case's 受理编号 is another case's; the body carries `case_id`.
    CaseNoTaken = "case_no_taken",
    /// An `attach` event's file is not on the hub for its author.
    AttachmentMissing = "attachment_missing",

    // ----- uploads -----
    /// An attachment digest that is not 64 lower-case hex digits.
    BadDigest = "bad_digest",
    /// An upload of zero bytes.
    EmptyUpload = "empty_upload",
    /// A file or chunk over the size limit.
    TooLarge = "too_large",
    /// An attachment type the hub does not take.
    UnsupportedType = "unsupported_type",
    /// The account's unfinished uploads would exceed its quota.
    UploadQuota = "upload_quota",
    /// An empty chunk.
    EmptyChunk = "empty_chunk",
    /// A chunk at the wrong offset; the body carries `received`: resume
    /// from there.
    OffsetMismatch = "offset_mismatch",
    /// More bytes than the upload declared.
    UploadOverflow = "upload_overflow",
    /// The first bytes are not the declared type's.
    TypeMismatch = "type_mismatch",
    /// The whole file's SM3 is not the declared one; the upload is gone.
    DigestMismatch = "digest_mismatch",
    /// The hub's disk is (nearly) full.
    InsufficientStorage = "insufficient_storage",

    // ----- seals -----
    /// Only a seal administrator may do this.
    NotSealAdmin = "not_seal_admin",
    /// A seal id with other characters than letters, digits and `-`, or
    /// too long.
    BadSealId = "bad_seal_id",
    /// The seal's maker is not the caller.
    SealMakerMismatch = "seal_maker_mismatch",
    /// The maker's key is not approved.
    SealMakerKey = "seal_maker_key",
    /// The seal does not verify or does not parse.
    SealInvalid = "seal_invalid",
    /// The seal has expired.
    SealExpired = "seal_expired",
    /// The seal's picture is not an acceptable PNG seal.
    SealPicture = "seal_picture",
    /// The seal's holder is not in the org.
    SealHolderUnknown = "seal_holder_unknown",
    /// The seal's text is not its holder's name.
    SealNameMismatch = "seal_name_mismatch",
    /// The seal is not bound to an approved key of its holder.
    SealHolderKey = "seal_holder_key",
    /// The seal id is registered already.
    SealExists = "seal_exists",
    /// The seal is revoked already.
    SealRevoked = "seal_revoked",

    // ----- the browser UI and hosted keys -----
    /// A browser call without the `X-Jingwu-UI` header.
    MissingUiHeader = "missing_ui_header",
    /// A UI command's arguments are not what it takes.
    BadArguments = "bad_arguments",
    /// A command only the desktop offers.
    DesktopOnly = "desktop_only",
    /// The person is not in the org.
    NotInOrg = "not_in_org",
    /// A signing PIN too short or too simple.
    WeakPin = "weak_pin",
    /// The person has a hosted key already.
    KeyExists = "key_exists",
    /// The person has no hosted key.
    NoHostedKey = "no_hosted_key",
    /// The signing PIN is wrong (counted).
    WrongPin = "wrong_pin",
    /// Too many wrong PINs; signing is locked for a while.
    PinLocked = "pin_locked",
    /// An opinion the core's rule refuses (missing where the decision
    /// needs a reason, or over the length limit).
    BadOpinion = "bad_opinion",

    // ----- updates of the desktop app -----
    /// An update whose version is not above the newest already uploaded
    /// for its platform (updates only go up).
    UpdateNotNewer = "update_not_newer",

    // ----- the hub's own trouble -----
    /// The hub's storage failed (details only in its log).
    Storage = "storage",
    /// Something else failed inside the hub (details only in its log).
    Internal = "internal",
}

impl ErrorCode {
    /// Whether this build knows the code.
    pub fn is_known(&self) -> bool {
        !matches!(self, ErrorCode::Unknown(_))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<ErrorCode, Self::Err> {
        Ok(ErrorCode::parse(s))
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ErrorCode, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(ErrorCode::parse(&s))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Stable code for programs; clients must accept codes not listed here.",
            ))
            .enum_values(Some(ErrorCode::ALL.iter().map(ErrorCode::as_str)))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ErrorCode {}

/// The JSON body of every error response (and of the live channel's
/// `end` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable code for programs, e.g. `stale_head`.
    pub code: ErrorCode,
    /// What went wrong, in plain Chinese, for people.
    pub error: String,
    /// Index of the offending event in a pushed batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// The case's current head (SM3 hex of its last event), on 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// The seq the next event of the case must carry, on 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_seq: Option<u64>,
    /// For uploads: the bytes received so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<i64>,
}

impl ErrorBody {
    /// A body with a code and a message and no details.
    pub fn new(code: ErrorCode, error: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code,
            error: error.into(),
            index: None,
            event_id: None,
            case_id: None,
            head: None,
            next_seq: None,
            received: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// Every code is its snake_case string on the wire, and back.
    #[test]
    fn every_code_round_trips_through_json() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, c);
            assert!(back.is_known());
            assert_eq!(c.to_string(), s);
        }
    }

    /// A newer hub's code still parses, and is sent on unchanged.
    #[test]
    fn unknown_codes_parse() {
        let c: ErrorCode = serde_json::from_str("\"quantum_flux\"").unwrap();
        assert_eq!(c, ErrorCode::Unknown("quantum_flux".into()));
        assert!(!c.is_known());
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"quantum_flux\"");
        let b: ErrorBody =
            serde_json::from_str(r#"{"code":"quantum_flux","error":"新","extra":1}"#).unwrap();
        assert_eq!(b.code.as_str(), "quantum_flux");
        assert!(serde_json::from_str::<ErrorCode>("17").is_err());
    }

    /// The body's JSON: absent details are left out.
    #[test]
    fn error_body_json() {
        let mut b = ErrorBody::new(ErrorCode::StaleHead, "旧");
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"code":"stale_head","error":"旧"}"#
        );
        b.head = Some("ab".into());
        b.next_seq = Some(3);
        b.index = Some(0);
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"code":"stale_head","error":"旧","index":0,"head":"ab","next_seq":3}"#
        );
        let back: ErrorBody = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(back, b);
    }
}
