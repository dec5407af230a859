//! Finding a Simplified Chinese font at run time.
//!
//! The font is never committed to the repository: Debian's
//! `fonts-noto-cjk` package (installed by the project's setup script)
//! provides `NotoSansCJK-Regular.ttc` and `NotoSansCJK-Bold.ttc`, both
//! collections whose face 2 is "Noto Sans CJK SC". The environment variable
//! [`FONT_ENV`] (`JINGWU_CJK_FONT=/path/to/font.ttc#2`) overrides the search;
//! when it is set, only that font is tried and an unusable file is an error
//! rather than a silent fallback.
//!
//! A located face is checked to be Simplified Chinese: it must have glyphs
//! for a few characters every seal uses (印 章 派 出 所), and its family name
//! must not carry another region's tag (`JP`, `KR`, `TC`, `HK`), which in the
//! Noto / Source Han collections means the wrong index was chosen.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontRef};

/// Environment variable naming the font file, optionally `path#index`.
pub const FONT_ENV: &str = "JINGWU_CJK_FONT";

/// Characters a usable face must have glyphs for.
pub const PROBE_CHARS: [char; 5] = ['印', '章', '派', '出', '所'];

/// Search list for [`CjkFont::locate`] (path, face index).
pub const REGULAR_CANDIDATES: &[(&str, u32)] = &[
    // Debian / Ubuntu fonts-noto-cjk.
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    // Fedora / Arch packaging of the same collections.
    (
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        2,
    ),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    // WenQuanYi (fonts-wqy-microhei / fonts-wqy-zenhei).
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    // Windows stations: Microsoft YaHei, SimHei, SimSun.
    ("C:\\Windows\\Fonts\\msyh.ttc", 0),
    ("C:\\Windows\\Fonts\\simhei.ttf", 0),
    ("C:\\Windows\\Fonts\\simsun.ttc", 0),
];

/// Search list tried first by [`CjkFont::locate_bold`].
pub const BOLD_CANDIDATES: &[(&str, u32)] = &[
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc", 2),
    ("C:\\Windows\\Fonts\\msyhbd.ttc", 0),
];

/// Font problems. Messages are shown to users and administrators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FontError {
    #[error(
        "找不到中文字体。请安装 fonts-noto-cjk（sudo apt install fonts-noto-cjk），\
         或设置环境变量 JINGWU_CJK_FONT=字体文件路径[#字形索引]。已查找：{tried}"
    )]
    NotFound { tried: String },
    #[error(
        "环境变量 JINGWU_CJK_FONT 的值“{0}”格式错误，应为“字体文件路径”或“字体文件路径#字形索引”"
    )]
    BadEnv(String),
    #[error("无法读取字体文件 {path}：{reason}")]
    Read { path: String, reason: String },
    #[error("无法解析字体文件 {path} 的第 {index} 号字形：{reason}")]
    Invalid {
        path: String,
        index: u32,
        reason: String,
    },
    #[error("字体 {path}#{index} 缺少汉字“{missing}”的字形，不是可用的中文字体")]
    NotChinese {
        path: String,
        index: u32,
        missing: char,
    },
    #[error(
        "字体 {path}#{index}（{family}）不是简体中文字形；\
         Noto Sans CJK 字体集中简体中文（SC）是第 2 号，请写成“路径#2”"
    )]
    NotSimplified {
        path: String,
        index: u32,
        family: String,
    },
}

/// A loaded, checked Simplified Chinese font face.
#[derive(Clone)]
pub struct CjkFont {
    bytes: Vec<u8>,
    index: u32,
    path: PathBuf,
}

impl std::fmt::Debug for CjkFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CjkFont")
            .field("path", &self.path)
            .field("index", &self.index)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl CjkFont {
    /// The regular-weight Chinese font: `JINGWU_CJK_FONT` if set, else
    /// Noto Sans CJK SC from `fonts-noto-cjk`, else other common locations.
    pub fn locate() -> Result<CjkFont, FontError> {
        locate_in(env_value().as_deref(), &[REGULAR_CANDIDATES])
    }

    /// A bold Chinese font (better for seals): `JINGWU_CJK_FONT` if set,
    /// else Noto Sans CJK SC Bold, else whatever [`CjkFont::locate`] finds.
    pub fn locate_bold() -> Result<CjkFont, FontError> {
        locate_in(
            env_value().as_deref(),
            &[BOLD_CANDIDATES, REGULAR_CANDIDATES],
        )
    }

    /// Loads face `index` of the font file at `path` and checks that it is
    /// a Simplified Chinese face.
    pub fn load(path: impl AsRef<Path>, index: u32) -> Result<CjkFont, FontError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| FontError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_bytes(bytes, index, path)
    }

    /// Checks font bytes already in memory; `path` is only remembered for
    /// messages.
    pub fn from_bytes(
        bytes: Vec<u8>,
        index: u32,
        path: impl Into<PathBuf>,
    ) -> Result<CjkFont, FontError> {
        let font = CjkFont {
            bytes,
            index,
            path: path.into(),
        };
        font.check()?;
        Ok(font)
    }

    /// The whole font file (for a collection: all faces).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The face index inside the file (0 for single-face files).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Where the font was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The face, ready for glyph lookups and outlines.
    pub fn font_ref(&self) -> Result<FontRef<'_>, FontError> {
        FontRef::try_from_slice_and_index(&self.bytes, self.index).map_err(|e| FontError::Invalid {
            path: self.path.display().to_string(),
            index: self.index,
            reason: e.to_string(),
        })
    }

    /// The face's family name (English, typographic family preferred).
    pub fn family_name(&self) -> Option<String> {
        family_name(&self.bytes, self.index)
    }

    /// Whether the face has a real glyph for `c`.
    pub fn has_glyph(&self, c: char) -> bool {
        self.font_ref()
            .map(|f| f.glyph_id(c).0 != 0)
            .unwrap_or(false)
    }

    fn check(&self) -> Result<(), FontError> {
        let face = self.font_ref()?;
        let path = self.path.display().to_string();
        if let Some(missing) = PROBE_CHARS
            .iter()
            .copied()
            .find(|c| face.glyph_id(*c).0 == 0)
        {
            return Err(FontError::NotChinese {
                path,
                index: self.index,
                missing,
            });
        }
        if let Some(family) = self.family_name() {
            if has_foreign_region_tag(&family) {
                return Err(FontError::NotSimplified {
                    path,
                    index: self.index,
                    family,
                });
            }
        }
        Ok(())
    }
}

/// Same as [`CjkFont::locate`].
pub fn locate() -> Result<CjkFont, FontError> {
    CjkFont::locate()
}

/// Same as [`CjkFont::locate_bold`].
pub fn locate_bold() -> Result<CjkFont, FontError> {
    CjkFont::locate_bold()
}

fn env_value() -> Option<String> {
    std::env::var_os(FONT_ENV)
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.trim().is_empty())
}

/// Splits `path#index`; a `#` not followed by a number belongs to the path.
pub fn parse_font_spec(spec: &str) -> Result<(PathBuf, u32), FontError> {
    let spec = spec.trim();
    let (path, index) = match spec.rsplit_once('#') {
        Some((p, i)) if !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()) => {
            let index = i
                .parse::<u32>()
                .map_err(|_| FontError::BadEnv(spec.to_string()))?;
            (p, index)
        }
        _ => (spec, 0),
    };
    if path.is_empty() {
        return Err(FontError::BadEnv(spec.to_string()));
    }
    Ok((PathBuf::from(path), index))
}

fn locate_in(env: Option<&str>, lists: &[&[(&str, u32)]]) -> Result<CjkFont, FontError> {
    if let Some(spec) = env {
        let (path, index) = parse_font_spec(spec)?;
        return CjkFont::load(path, index);
    }
    let mut tried = Vec::new();
    for (path, index) in lists.iter().flat_map(|l| l.iter()) {
        let p = Path::new(path);
        if !p.is_file() {
            tried.push(format!("{path}#{index}"));
            continue;
        }
        match CjkFont::load(p, *index) {
            Ok(font) => return Ok(font),
            Err(e) => tried.push(format!("{path}#{index}（{e}）")),
        }
    }
    Err(FontError::NotFound {
        tried: tried.join("、"),
    })
}

fn family_name(bytes: &[u8], index: u32) -> Option<String> {
    let face = ttf_parser::Face::parse(bytes, index).ok()?;
    let mut best: Option<(u8, String)> = None;
    for name in face.names() {
        let rank_id = match name.name_id {
            ttf_parser::name_id::TYPOGRAPHIC_FAMILY => 0,
            ttf_parser::name_id::FAMILY => 2,
            _ => continue,
        };
        let english = name.language() == ttf_parser::Language::English_UnitedStates;
        let rank = rank_id + u8::from(!english);
        if let Some(s) = name.to_string() {
            if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                best = Some((rank, s));
            }
        }
    }
    best.map(|(_, s)| s)
}

fn has_foreign_region_tag(family: &str) -> bool {
    family
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .any(|t| matches!(t, "JP" | "KR" | "TC" | "HK" | "J" | "K"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_spec_parsing() {
        assert_eq!(
            parse_font_spec("/a/b.ttc#2").ok(),
            Some((PathBuf::from("/a/b.ttc"), 2))
        );
        assert_eq!(
            parse_font_spec("/a/b.ttf").ok(),
            Some((PathBuf::from("/a/b.ttf"), 0))
        );
        assert_eq!(
            parse_font_spec("/a/#dir/b.ttf").ok(),
            Some((PathBuf::from("/a/#dir/b.ttf"), 0))
        );
        assert!(parse_font_spec("#3").is_err());
        assert!(parse_font_spec("/a/b.ttc#99999999999").is_err());
    }

    #[test]
    fn region_tags() {
        assert!(!has_foreign_region_tag("Noto Sans CJK SC"));
        assert!(!has_foreign_region_tag("WenQuanYi Micro Hei"));
        assert!(!has_foreign_region_tag("Source Han Sans CN"));
        assert!(has_foreign_region_tag("Noto Sans CJK JP"));
        assert!(has_foreign_region_tag("Noto Sans CJK TC"));
        assert!(has_foreign_region_tag("Source Han Sans K"));
    }

    #[test]
    fn env_override_missing_file_is_an_error_not_a_fallback() {
        let r = locate_in(Some("/nonexistent/font.ttc#2"), &[REGULAR_CANDIDATES]);
        assert!(matches!(r, Err(FontError::Read { .. })), "{r:?}");
    }

    #[test]
    fn nothing_found_names_the_package() {
        let r = locate_in(None, &[&[("/nonexistent/a.ttc", 2)]]);
        let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("fonts-noto-cjk"), "{msg}");
        assert!(msg.contains("JINGWU_CJK_FONT"), "{msg}");
        assert!(msg.contains("/nonexistent/a.ttc#2"), "{msg}");
    }

    /// The setup script installs fonts-noto-cjk: these fail, not skip,
    /// when it is missing.
    #[test]
    fn debian_noto_faces() {
        let p = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
        let sc = CjkFont::load(p, 2);
        assert!(sc.is_ok(), "{sc:?}");
        let family = sc.ok().and_then(|f| f.family_name()).unwrap_or_default();
        assert!(family.contains("SC"), "{family}");
        for wrong in [0, 1, 3, 4] {
            let r = CjkFont::load(p, wrong);
            assert!(
                matches!(r, Err(FontError::NotSimplified { .. })),
                "index {wrong}: {r:?}"
            );
        }
    }
}
