//! The organisation: units, posts, the people holding them, and 分管
//! responsibilities (which deputy director is in charge of which units).
//!
//! An org is data: the Leishan demo ships as `data/leishan-org.json`; real
//! deployments import their own file of the same shape. [`Org::from_json`]
//! checks every reference, so a loaded org is internally consistent.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A unit's place in the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 州（市）公安局 — above the county.
    Prefecture,
    /// 县公安局 — the bureau.
    Bureau,
    /// An internal unit of a bureau (科室 / 大队 / 直属单位) or a
    /// prefecture's 支队.
    Internal,
    /// 派出所.
    Station,
    /// A unit outside the police structure that the bureau's 110 desk
    /// dispatches to (e.g. a 消防救援大队 since 2018); `parent` is the
    /// bureau whose desk dispatches to it. The county can rename or remove
    /// it like any unit.
    External,
}

/// An organisational unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Stable 12-digit unit code.
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    /// The unit above (a station's and an internal unit's bureau; a bureau's
    /// prefecture). `None` only at the top.
    #[serde(default)]
    pub parent: Option<String>,
    /// Stable function tags that workflows refer to, e.g. `household`
    /// (户政), `patrol110`, `traffic`, `fire`, `command`.
    #[serde(default)]
    pub functions: Vec<String>,
    /// Township (乡镇) code a station covers, for statistics.
    #[serde(default)]
    pub township: Option<String>,
}

/// One post held by a person in a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostHolding {
    pub unit: String,
    /// Post name, e.g. 所长, 股长, 大队长, 局长, 副局长, 户籍民警.
    pub post: String,
}

/// A person (police officer or civilian staff) with one or more posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Stable id (警号 for officers).
    pub id: String,
    pub name: String,
    pub posts: Vec<PostHolding>,
}

/// A 分管 responsibility: `person` is the leader in charge of `unit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InCharge {
    pub person: String,
    pub unit: String,
}

/// The serialised form of an org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgData {
    pub name: String,
    pub version: u32,
    /// The post names in use; every holding must name one of these.
    pub posts: Vec<String>,
    pub units: Vec<Unit>,
    pub people: Vec<Person>,
    #[serde(default)]
    pub in_charge: Vec<InCharge>,
    /// Which posts take part in 110 work (see [`IncidentPosts`]).
    #[serde(default)]
    pub incident: IncidentPosts,
}

/// The posts that 110 work is addressed to. A county names its posts as it
/// likes; these lists say which of them are on duty. Where a unit has no
/// holder of any listed post, every member of the unit stands in, so an org
/// without these posts still works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentPosts {
    /// Posts on duty in a unit: the 110 desk's 接警员 and 值班长, a
    /// station's or brigade's 值班民警. They receive the unit's dispatches
    /// (待签收) and, at a desk, new reports waiting for dispatch.
    #[serde(default = "default_duty_posts")]
    pub duty: Vec<String>,
    /// Posts that conclude (终结) an incident registered by their unit:
    /// the desk's 值班长, a station's 所长.
    #[serde(default = "default_commander_posts")]
    pub commander: Vec<String>,
}

fn default_duty_posts() -> Vec<String> {
    vec!["接警员".into(), "值班长".into(), "值班民警".into()]
}

fn default_commander_posts() -> Vec<String> {
    vec!["值班长".into(), "所长".into()]
}

impl Default for IncidentPosts {
    fn default() -> Self {
        IncidentPosts {
            duty: default_duty_posts(),
            commander: default_commander_posts(),
        }
    }
}

/// The function tags of a bureau's 110 desk: the 110 brigade and the
/// command centre.
pub const DESK_FUNCTIONS: [&str; 2] = ["patrol110", "command"];

/// The function tags of internal units the desk dispatches to (besides
/// every station and every external unit).
pub const DISPATCH_FUNCTIONS: [&str; 4] = ["patrol110", "traffic", "fire", "dispatch"];

/// Why an org file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    #[error("组织机构文件格式错误：{0}")]
    Json(String),
    #[error("单位编码重复：{0}")]
    DuplicateUnit(String),
    #[error("单位编码应为 12 位数字：{0}")]
    BadUnitCode(String),
    #[error("人员编号重复：{0}")]
    DuplicatePerson(String),
    #[error("单位 {unit} 的上级单位 {parent} 不存在")]
    UnknownParent { unit: String, parent: String },
    #[error("单位 {0} 的上级关系成环")]
    Cycle(String),
    #[error("人员 {person} 的任职单位 {unit} 不存在")]
    UnknownUnit { person: String, unit: String },
    #[error("人员 {person} 的职务“{post}”不在职务表中")]
    UnknownPost { person: String, post: String },
    #[error("人员 {0} 没有任何职务")]
    NoPost(String),
    #[error("分管关系引用了不存在的人员或单位：{person} → {unit}")]
    BadInCharge { person: String, unit: String },
    #[error("{kind}单位 {unit} 的上级应为{expected}")]
    BadParentKind {
        kind: &'static str,
        unit: String,
        expected: &'static str,
    },
}

/// The post of a seal administrator (印章管理员): issues and revokes the
/// electronic seals of units and people (see `docs/seals.md`).
pub const SEAL_ADMIN_POST: &str = "印章管理员";

/// The posts that head a bureau or a prefecture (局长): the leaders above
/// its own leaders and above a unit nobody is 分管 of
/// ([`Org::leaders_above`]).
pub const HEAD_POSTS: [&str; 1] = ["局长"];

/// A checked org with lookup indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    data: OrgData,
    units: BTreeMap<String, usize>,
    people: BTreeMap<String, usize>,
}

/// The Leishan County demo org shipped with the code.
pub const LEISHAN_ORG_JSON: &str = include_str!("../data/leishan-org.json");

impl Org {
    /// Parses and checks an org file.
    pub fn from_json(json: &str) -> Result<Org, OrgError> {
        let data: OrgData =
            serde_json::from_str(json).map_err(|e| OrgError::Json(e.to_string()))?;
        Org::new(data)
    }

    /// The Leishan demo org.
    pub fn leishan_demo() -> Result<Org, OrgError> {
        Org::from_json(LEISHAN_ORG_JSON)
    }

    /// Checks every reference in `data`.
    pub fn new(data: OrgData) -> Result<Org, OrgError> {
        let mut units = BTreeMap::new();
        for (i, u) in data.units.iter().enumerate() {
            if u.code.len() != 12 || !u.code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(OrgError::BadUnitCode(u.code.clone()));
            }
            if units.insert(u.code.clone(), i).is_some() {
                return Err(OrgError::DuplicateUnit(u.code.clone()));
            }
        }
        for u in &data.units {
            if let Some(p) = &u.parent {
                let Some(&pi) = units.get(p) else {
                    return Err(OrgError::UnknownParent {
                        unit: u.code.clone(),
                        parent: p.clone(),
                    });
                };
                let parent_kind = data.units.get(pi).map(|x| x.kind);
                let ok = match u.kind {
                    UnitKind::Station | UnitKind::External => parent_kind == Some(UnitKind::Bureau),
                    UnitKind::Bureau => parent_kind == Some(UnitKind::Prefecture),
                    UnitKind::Internal => matches!(
                        parent_kind,
                        Some(UnitKind::Bureau) | Some(UnitKind::Prefecture)
                    ),
                    UnitKind::Prefecture => false,
                };
                if !ok {
                    let (kind, expected) = match u.kind {
                        UnitKind::Station => ("派出所", "县公安局"),
                        UnitKind::External => ("外部", "县公安局"),
                        UnitKind::Bureau => ("县公安局", "州（市）公安局"),
                        UnitKind::Internal => ("内设", "公安局"),
                        UnitKind::Prefecture => ("州（市）公安局", "无"),
                    };
                    return Err(OrgError::BadParentKind {
                        kind,
                        unit: u.code.clone(),
                        expected,
                    });
                }
            }
        }
        // The kinds above already forbid cycles (each step goes strictly up
        // Station/Internal → Bureau → Prefecture), but check explicitly.
        for u in &data.units {
            let mut seen = BTreeSet::new();
            let mut cur = Some(u.code.as_str());
            while let Some(c) = cur {
                if !seen.insert(c) {
                    return Err(OrgError::Cycle(u.code.clone()));
                }
                cur = units
                    .get(c)
                    .and_then(|&i| data.units.get(i))
                    .and_then(|x| x.parent.as_deref());
            }
        }
        let posts: BTreeSet<&str> = data.posts.iter().map(String::as_str).collect();
        let mut people = BTreeMap::new();
        for (i, p) in data.people.iter().enumerate() {
            if people.insert(p.id.clone(), i).is_some() {
                return Err(OrgError::DuplicatePerson(p.id.clone()));
            }
            if p.posts.is_empty() {
                return Err(OrgError::NoPost(p.id.clone()));
            }
            for h in &p.posts {
                if !units.contains_key(&h.unit) {
                    return Err(OrgError::UnknownUnit {
                        person: p.id.clone(),
                        unit: h.unit.clone(),
                    });
                }
                if !posts.contains(h.post.as_str()) {
                    return Err(OrgError::UnknownPost {
                        person: p.id.clone(),
                        post: h.post.clone(),
                    });
                }
            }
        }
        for r in &data.in_charge {
            if !people.contains_key(&r.person) || !units.contains_key(&r.unit) {
                return Err(OrgError::BadInCharge {
                    person: r.person.clone(),
                    unit: r.unit.clone(),
                });
            }
        }
        Ok(Org {
            data,
            units,
            people,
        })
    }

    pub fn data(&self) -> &OrgData {
        &self.data
    }

    pub fn unit(&self, code: &str) -> Option<&Unit> {
        self.units.get(code).and_then(|&i| self.data.units.get(i))
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.get(id).and_then(|&i| self.data.people.get(i))
    }

    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.data.units.iter()
    }

    pub fn people(&self) -> impl Iterator<Item = &Person> {
        self.data.people.iter()
    }

    /// The nearest ancestor-or-self of `unit` of the given kind.
    pub fn ancestor_of_kind(&self, unit: &str, kind: UnitKind) -> Option<&Unit> {
        let mut cur = self.unit(unit);
        while let Some(u) = cur {
            if u.kind == kind {
                return Some(u);
            }
            cur = u.parent.as_deref().and_then(|p| self.unit(p));
        }
        None
    }

    /// The units directly under `parent` carrying `function`.
    pub fn units_with_function<'a>(
        &'a self,
        parent: &'a str,
        function: &'a str,
    ) -> impl Iterator<Item = &'a Unit> + 'a {
        self.data.units.iter().filter(move |u| {
            u.parent.as_deref() == Some(parent) && u.functions.iter().any(|f| f == function)
        })
    }

    /// The people holding `post` in `unit`.
    pub fn holders(&self, unit: &str, post: &str) -> Vec<&Person> {
        self.data
            .people
            .iter()
            .filter(|p| p.posts.iter().any(|h| h.unit == unit && h.post == post))
            .collect()
    }

    /// The leaders in charge (分管) of `unit`.
    pub fn in_charge_of(&self, unit: &str) -> Vec<&Person> {
        self.data
            .in_charge
            .iter()
            .filter(|r| r.unit == unit)
            .filter_map(|r| self.person(&r.person))
            .collect()
    }

    /// The leaders above whoever acts for `unit` (the copy of a time-limit
    /// reminder goes to them): the leaders 分管 `unit`; for a bureau or a
    /// prefecture itself (its own leaders act), or a unit nobody is 分管
    /// of, the holders of a head post ([`HEAD_POSTS`], 局长) of the nearest
    /// bureau — or, outside any bureau, prefecture — at or above it. Empty
    /// when the org names nobody there.
    pub fn leaders_above(&self, unit: &str) -> Vec<&Person> {
        let Some(u) = self.unit(unit) else {
            return Vec::new();
        };
        if !matches!(u.kind, UnitKind::Bureau | UnitKind::Prefecture) {
            let v = self.in_charge_of(unit);
            if !v.is_empty() {
                return v;
            }
        }
        let Some(top) = self
            .ancestor_of_kind(unit, UnitKind::Bureau)
            .or_else(|| self.ancestor_of_kind(unit, UnitKind::Prefecture))
        else {
            return Vec::new();
        };
        self.data
            .people
            .iter()
            .filter(|p| {
                p.posts
                    .iter()
                    .any(|h| h.unit == top.code && HEAD_POSTS.contains(&h.post.as_str()))
            })
            .collect()
    }

    /// Whether `person` holds any post in `unit`.
    pub fn is_member(&self, person: &str, unit: &str) -> bool {
        self.person(person)
            .is_some_and(|p| p.posts.iter().any(|h| h.unit == unit))
    }

    /// Whether `person` holds the seal administrator post anywhere.
    pub fn is_seal_admin(&self, person: &str) -> bool {
        self.person(person)
            .is_some_and(|p| p.posts.iter().any(|h| h.post == SEAL_ADMIN_POST))
    }

    /// The text of a unit's round seal: a bureau or prefecture by its own
    /// name, a station or internal unit prefixed with its bureau's name
    /// (e.g. 雷山县公安局方祥派出所).
    pub fn unit_seal_name(&self, unit: &str) -> Option<String> {
        let u = self.unit(unit)?;
        Some(match u.kind {
            UnitKind::Bureau | UnitKind::Prefecture => u.name.clone(),
            UnitKind::External => u.name.clone(),
            UnitKind::Station | UnitKind::Internal => {
                let parent = u
                    .parent
                    .as_deref()
                    .and_then(|p| self.unit(p))
                    .map(|p| p.name.as_str())
                    .unwrap_or_default();
                format!("{parent}{}", u.name)
            }
        })
    }

    /// The units below `unit` (children, their children …), in org order.
    pub fn units_under(&self, unit: &str) -> Vec<&Unit> {
        self.data
            .units
            .iter()
            .filter(|u| {
                let mut p = u.parent.as_deref();
                let mut hops = 0;
                while let Some(code) = p {
                    if code == unit {
                        return true;
                    }
                    hops += 1;
                    if hops > self.data.units.len() {
                        return false;
                    }
                    p = self.unit(code).and_then(|x| x.parent.as_deref());
                }
                false
            })
            .collect()
    }

    /// The county bureau `unit` belongs to (itself if a bureau).
    pub fn bureau_of(&self, unit: &str) -> Option<&Unit> {
        self.ancestor_of_kind(unit, UnitKind::Bureau)
    }

    /// Whether `unit` is a 110 desk (the 110 brigade or the command
    /// centre, by function).
    pub fn is_desk(&self, unit: &str) -> bool {
        self.unit(unit).is_some_and(|u| {
            u.kind == UnitKind::Internal
                && u.functions
                    .iter()
                    .any(|f| DESK_FUNCTIONS.contains(&f.as_str()))
        })
    }

    /// The 110 desks of `bureau`.
    pub fn desk_units<'a>(&'a self, bureau: &'a str) -> impl Iterator<Item = &'a Unit> + 'a {
        self.data
            .units
            .iter()
            .filter(move |u| u.parent.as_deref() == Some(bureau) && self.is_desk(&u.code))
    }

    /// Whether `person` works at a 110 desk of `bureau`.
    pub fn is_desk_member(&self, person: &str, bureau: &str) -> bool {
        self.desk_units(bureau)
            .any(|u| self.is_member(person, &u.code))
    }

    /// Whether `person` holds a post in the bureau unit itself (局长,
    /// 副局长 …): the bureau's leaders.
    pub fn is_bureau_leader(&self, person: &str, bureau: &str) -> bool {
        self.unit(bureau)
            .is_some_and(|u| u.kind == UnitKind::Bureau)
            && self.is_member(person, bureau)
    }

    /// Whether the 110 desk of `bureau` may dispatch to `unit`: a station,
    /// an external unit, or an internal unit with a dispatch function
    /// ([`DISPATCH_FUNCTIONS`]), under that bureau.
    pub fn is_dispatch_target(&self, bureau: &str, unit: &str) -> bool {
        self.unit(unit).is_some_and(|u| {
            u.parent.as_deref() == Some(bureau)
                && match u.kind {
                    UnitKind::Station | UnitKind::External => true,
                    UnitKind::Internal => u
                        .functions
                        .iter()
                        .any(|f| DISPATCH_FUNCTIONS.contains(&f.as_str())),
                    UnitKind::Bureau | UnitKind::Prefecture => false,
                }
        })
    }

    /// The units the desk of `bureau` may dispatch to, in org order.
    pub fn dispatch_targets<'a>(&'a self, bureau: &'a str) -> impl Iterator<Item = &'a Unit> + 'a {
        self.data
            .units
            .iter()
            .filter(move |u| self.is_dispatch_target(bureau, &u.code))
    }

    /// Whether `unit` may register 110 reports: a desk, or a unit the desk
    /// dispatches to (自接警).
    pub fn registers_incidents(&self, unit: &str) -> bool {
        self.is_desk(unit)
            || self
                .bureau_of(unit)
                .is_some_and(|b| self.is_dispatch_target(&b.code, unit))
    }

    /// The unit where `person` registers 110 reports: `wanted` if given
    /// (and theirs, and able to), else their first 110 desk, else their
    /// first unit the desk dispatches to. The error says why not, in
    /// Chinese.
    pub fn incident_unit_of(&self, person: &str, wanted: Option<&str>) -> Result<String, String> {
        let units = self.units_of(person);
        if let Some(w) = wanted {
            return match units.iter().find(|u| u.code == w) {
                Some(u) if self.registers_incidents(&u.code) => Ok(u.code.clone()),
                Some(u) => Err(format!("{} 不能登记接处警", u.name)),
                None => Err(format!("您不在单位 {w} 任职，不能以该单位名义登记")),
            };
        }
        units
            .iter()
            .find(|u| self.is_desk(&u.code))
            .or_else(|| units.iter().find(|u| self.registers_incidents(&u.code)))
            .map(|u| u.code.clone())
            .ok_or_else(|| format!("{person} 不是 110 接警台或处警单位的人员，不能登记接处警"))
    }

    /// The members of `unit`.
    pub fn members(&self, unit: &str) -> Vec<&Person> {
        self.data
            .people
            .iter()
            .filter(|p| p.posts.iter().any(|h| h.unit == unit))
            .collect()
    }

    /// The holders of any of `posts` in `unit`, or, where nobody holds
    /// one, every member of the unit.
    fn holders_or_members(&self, unit: &str, posts: &[String]) -> Vec<String> {
        let held: Vec<String> = self
            .data
            .people
            .iter()
            .filter(|p| {
                p.posts
                    .iter()
                    .any(|h| h.unit == unit && posts.contains(&h.post))
            })
            .map(|p| p.id.clone())
            .collect();
        if held.is_empty() {
            self.members(unit)
                .into_iter()
                .map(|p| p.id.clone())
                .collect()
        } else {
            held
        }
    }

    /// Who is on duty for 110 work in `unit` ([`IncidentPosts::duty`]).
    pub fn duty_of(&self, unit: &str) -> Vec<String> {
        self.holders_or_members(unit, &self.data.incident.duty)
    }

    /// Who concludes incidents registered by `unit`
    /// ([`IncidentPosts::commander`]).
    pub fn commanders_of(&self, unit: &str) -> Vec<String> {
        self.holders_or_members(unit, &self.data.incident.commander)
    }

    /// The units `person` holds posts in.
    pub fn units_of(&self, person: &str) -> Vec<&Unit> {
        self.person(person)
            .map(|p| p.posts.iter().filter_map(|h| self.unit(&h.unit)).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn leishan_demo_loads_and_has_the_expected_shape() {
        let org = Org::leishan_demo().unwrap();
        let bureau = org.unit("522634000000").unwrap();
        assert_eq!(bureau.kind, UnitKind::Bureau);
        let internal = org
            .units()
            .filter(|u| u.kind == UnitKind::Internal && u.parent.as_deref() == Some("522634000000"))
            .count();
        assert_eq!(internal, 18);
        // The fire brigade left the police structure: an external unit
        // the desk still dispatches to.
        let fire = org
            .units_with_function("522634000000", "fire")
            .next()
            .unwrap();
        assert_eq!(fire.kind, UnitKind::External);
        assert!(org.is_dispatch_target("522634000000", &fire.code));
        // 110: desks, duty staff, who concludes.
        let desks: Vec<_> = org
            .desk_units("522634000000")
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(desks, ["指挥中心", "110巡警大队"]);
        for s in org.units().filter(|u| u.kind == UnitKind::Station) {
            assert_eq!(org.holders(&s.code, "值班民警").len(), 1, "{}", s.name);
            assert!(org.is_dispatch_target("522634000000", &s.code));
            assert_eq!(org.commanders_of(&s.code).len(), 1, "{}", s.name);
        }
        for d in org.desk_units("522634000000") {
            assert_eq!(org.holders(&d.code, "值班长").len(), 1, "{}", d.name);
        }
        assert!(!org.is_dispatch_target("522634000000", "522634070000"));
        let stations: Vec<_> = org
            .units()
            .filter(|u| u.kind == UnitKind::Station)
            .collect();
        assert_eq!(stations.len(), 9);
        assert!(stations.iter().any(|s| s.name == "方祥派出所"));
        for f in ["household", "patrol110", "traffic", "fire", "command"] {
            assert_eq!(org.units_with_function("522634000000", f).count(), 1, "{f}");
        }
        // Every station has a chief and a household officer.
        for s in &stations {
            assert_eq!(org.holders(&s.code, "所长").len(), 1, "{}", s.name);
            assert!(!org.holders(&s.code, "户籍民警").is_empty(), "{}", s.name);
        }
        // The deputy director in charge of 户政股.
        let hz = org
            .units_with_function("522634000000", "household")
            .next()
            .unwrap();
        let leaders = org.in_charge_of(&hz.code);
        assert_eq!(leaders.len(), 1);
        assert!(leaders[0].posts.iter().any(|h| h.post == "副局长"));
    }

    fn tiny() -> OrgData {
        serde_json::from_str(
            r#"{"name":"t","version":1,"posts":["所长","局长"],
            "units":[{"code":"522634000000","name":"局","kind":"bureau"},
                     {"code":"522634510000","name":"所","kind":"station","parent":"522634000000"}],
            "people":[{"id":"1","name":"甲","posts":[{"unit":"522634510000","post":"所长"}]}],
            "in_charge":[]}"#,
        )
        .unwrap()
    }

    #[test]
    fn without_duty_posts_every_member_stands_in() {
        let org = Org::new(tiny()).unwrap();
        assert_eq!(org.duty_of("522634510000"), vec!["1".to_string()]);
        assert_eq!(org.commanders_of("522634510000"), vec!["1".to_string()]);
        let mut d = tiny();
        d.posts.push("值班民警".into());
        d.people.push(Person {
            id: "2".into(),
            name: "乙".into(),
            posts: vec![PostHolding {
                unit: "522634510000".into(),
                post: "值班民警".into(),
            }],
        });
        let org = Org::new(d).unwrap();
        assert_eq!(org.duty_of("522634510000"), vec!["2".to_string()]);
        assert_eq!(org.commanders_of("522634510000"), vec!["1".to_string()]);
    }

    #[test]
    fn bad_references_are_refused_with_reasons() {
        assert!(Org::new(tiny()).is_ok());
        let mut d = tiny();
        d.units[1].parent = Some("999999999999".into());
        assert!(matches!(Org::new(d), Err(OrgError::UnknownParent { .. })));
        let mut d = tiny();
        d.people[0].posts[0].post = "队长".into();
        let e = Org::new(d).unwrap_err();
        assert!(e.to_string().contains("队长"));
        let mut d = tiny();
        d.units[1].code = "522634000000".into();
        assert!(matches!(Org::new(d), Err(OrgError::DuplicateUnit(_))));
        let mut d = tiny();
        d.units[1].code = "5226".into();
        assert!(matches!(Org::new(d), Err(OrgError::BadUnitCode(_))));
        let mut d = tiny();
        d.in_charge.push(InCharge {
            person: "2".into(),
            unit: "522634000000".into(),
        });
        assert!(matches!(Org::new(d), Err(OrgError::BadInCharge { .. })));
        let mut d = tiny();
        d.units[0].parent = Some("522634510000".into());
        assert!(matches!(Org::new(d), Err(OrgError::BadParentKind { .. })));
        assert!(matches!(Org::from_json("{"), Err(OrgError::Json(_))));
    }
}
