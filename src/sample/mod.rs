//! The deterministic generator of the fictional sample data set (示例数据).
//!
//! Two regions, four projects (楼盘), about 2,000 units with their owners, the suppliers of
//! their components and the staff of the responsibility matrix. Every name, number and address
//! is made up. The generator is seeded [`ChaCha8Rng`], whose stream is stable across versions,
//! so the same seed always gives the same bytes; the committed copy under `campaigns/sample/`
//! is `generate(SEED)`.
//!
//! Phone numbers are drawn without repetition from a seeded permutation of the valid mobile
//! numbers (a Feistel network), so they are distinct across a whole file without remembering
//! the numbers already given: [`write_owners`] streams a million owners in constant memory.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use chrono::{Duration, NaiveDate};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The seed of the committed sample under campaigns/sample/.
pub const SEED: u64 = 400;

/// The five CSV texts of a data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleData {
    /// `units.csv`: regions, projects, buildings and units.
    pub units: String,
    /// `suppliers.csv`: the companies that built and warrant the components.
    pub suppliers: String,
    /// `components.csv`: each unit's components, supplier and warranty months.
    pub components: String,
    /// `staff.csv`: the people of the responsibility matrix and the call center.
    pub staff: String,
    /// `owners.csv`: owners with their phones and units.
    pub owners: String,
}

impl SampleData {
    /// Writes units.csv, suppliers.csv, components.csv, staff.csv, owners.csv into `dir` (creating it).
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, text) in self.files() {
            std::fs::write(dir.join(name), text)?;
        }
        Ok(())
    }

    /// Each file's name with its text, in import order.
    fn files(&self) -> [(&'static str, &str); 5] {
        [
            ("units.csv", &self.units),
            ("suppliers.csv", &self.suppliers),
            ("components.csv", &self.components),
            ("staff.csv", &self.staff),
            ("owners.csv", &self.owners),
        ]
    }
}

/// Generates the data set of `seed`; the same seed gives byte-identical texts.
pub fn generate(seed: u64) -> SampleData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut phones = PhoneSource::new(&mut rng, 0);
    let units = units(&mut rng);
    let suppliers = suppliers(&mut rng);
    let components = components(&mut rng, &units);
    let staff = staff(&mut rng, &mut phones);
    let owners = owners(&mut rng, &mut phones, &units);
    let units = unit_text(&units);
    SampleData {
        units,
        suppliers,
        components,
        staff,
        owners,
    }
}

/// Writes `count` synthetic owners (owners.csv format, header included) to `out`, for the
/// import benchmark: codes `B0000001`.., one or two distinct mobiles each, no units. Rows are
/// written as they are made, so a million of them take little memory.
pub fn write_owners(count: u64, seed: u64, out: &mut impl io::Write) -> io::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // The same permutation as `generate(seed)`, further on: no number of the sample reappears.
    let mut phones = PhoneSource::new(&mut rng, SYNTHETIC_PHONES);
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(OWNER_HEADER.split(','))?;
    for n in 1..=count {
        csv.write_record(owner(&mut rng, &mut phones, &format!("B{n:07}"), ""))?;
    }
    csv.flush()
}

// ---------------------------------------------------------------------------------------------
// Places

/// Region codes and names.
const REGIONS: [(&str, &str); 2] = [("EAST", "华东区域"), ("SOUTH", "华南区域")];

/// A project (楼盘) and the window its buildings were handed over in.
struct Project {
    region: usize,
    code: &'static str,
    name: &'static str,
    city: &'static str,
    /// First and last possible handover day, as (year, month, day).
    handover: [(i32, u32, u32); 2],
    /// How many of the last buildings are not handed over yet.
    pending: usize,
}

#[rustfmt::skip]
const PROJECTS: [Project; 4] = [
    Project { region: 0, code: "HYF", name: "海韵府", city: "上海", handover: [(2019, 3, 1), (2020, 12, 31)], pending: 0 },
    Project { region: 0, code: "JHY", name: "锦华园", city: "杭州", handover: [(2020, 9, 1), (2022, 12, 31)], pending: 0 },
    Project { region: 1, code: "YJW", name: "悦江湾", city: "广州", handover: [(2022, 6, 1), (2024, 12, 31)], pending: 0 },
    Project { region: 1, code: "LXC", name: "丽轩城", city: "深圳", handover: [(2024, 9, 1), (2026, 6, 30)], pending: 2 },
];

/// Floors of buildings 1..=8 of every project (128 floors × 4 doors = 512 units a project).
const FLOORS: [u32; 8] = [18, 18, 17, 16, 15, 15, 14, 15];

/// Doors (户) on each floor.
const DOORS: u32 = 4;

/// One generated unit.
struct Unit {
    project: usize,
    building: usize,
    number: u32,
    floor: u32,
    /// Area in tenths of a square metre.
    area_dm: u32,
    handover: Option<NaiveDate>,
}

impl Unit {
    /// `PROJECT-BUILDING-UNIT`, the code the other files use.
    fn code(&self) -> String {
        let project = PROJECTS[self.project].code;
        format!("{project}-{}-{}", self.building, self.number)
    }
}

/// Every unit, project by project, building by building, floor by floor.
fn units(rng: &mut ChaCha8Rng) -> Vec<Unit> {
    let mut units = Vec::new();
    for (p, project) in PROJECTS.iter().enumerate() {
        let dates = handover_dates(rng, project);
        for (b, &floors) in FLOORS.iter().enumerate() {
            // Every floor of a building repeats its layout: the door decides the area.
            let corner = |door| door == 1 || door == DOORS;
            let areas: Vec<u32> = (1..=DOORS)
                .map(|door| {
                    rng.random_range(if corner(door) {
                        1100..=1800
                    } else {
                        600..=1200
                    })
                })
                .collect();
            for floor in 1..=floors {
                for (door, &area_dm) in (1..=DOORS).zip(&areas) {
                    units.push(Unit {
                        project: p,
                        building: b + 1,
                        number: floor * 100 + door,
                        floor,
                        area_dm,
                        handover: dates.get(b).copied(),
                    });
                }
            }
        }
    }
    units
}

/// The handover days of a project's handed-over buildings, in building order.
fn handover_dates(rng: &mut ChaCha8Rng, project: &Project) -> Vec<NaiveDate> {
    let [first, last] = project
        .handover
        .map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).expect("a valid date"));
    let span = (last - first).num_days();
    let mut dates: Vec<NaiveDate> = (0..FLOORS.len() - project.pending)
        .map(|_| first + Duration::days(rng.random_range(0..=span)))
        .collect();
    dates.sort();
    dates
}

const UNIT_HEADER: &str = "region_code,region_name,project_code,project_name,city,building,unit,floor,area_m2,handover_date";

fn unit_text(units: &[Unit]) -> String {
    let mut table = Table::new(UNIT_HEADER);
    for unit in units {
        let project = &PROJECTS[unit.project];
        let (region_code, region_name) = REGIONS[project.region];
        let handover = unit.handover.map(|d| d.format("%Y-%m-%d").to_string());
        table.row([
            region_code,
            region_name,
            project.code,
            project.name,
            project.city,
            &unit.building.to_string(),
            &unit.number.to_string(),
            &unit.floor.to_string(),
            &format!("{}.{}", unit.area_dm / 10, unit.area_dm % 10),
            &handover.unwrap_or_default(),
        ]);
    }
    table.finish()
}

// ---------------------------------------------------------------------------------------------
// Suppliers and components

/// Code, name, trade and city (index into [`PROJECTS`], for the phone's area code).
const SUPPLIERS: [(&str, &str, &str, usize); 12] = [
    ("SUP01", "上海金厨橱柜有限公司", "kitchen", 0),
    ("SUP02", "广州欧雅厨房设备有限公司", "kitchen", 2),
    ("SUP03", "杭州明窗门窗系统有限公司", "windows", 1),
    ("SUP04", "深圳华铝节能门窗有限公司", "windows", 3),
    ("SUP05", "上海固安防水工程有限公司", "waterproofing", 0),
    ("SUP06", "广州雨盾防水材料有限公司", "waterproofing", 2),
    ("SUP07", "杭州恒通电气工程有限公司", "electrical", 1),
    ("SUP08", "深圳安能机电安装有限公司", "electrical", 3),
    ("SUP09", "上海盛木木门有限公司", "doors", 0),
    ("SUP10", "深圳光华照明电器有限公司", "lighting", 3),
    ("SUP11", "杭州森源地板有限公司", "flooring", 1),
    ("SUP12", "广州洁雅卫浴有限公司", "sanitary", 2),
];

/// Area code and the first digits of an eight-digit local number, by city.
const LANDLINES: [(&str, &[char]); 4] = [
    ("021", &['5', '6']),
    ("0571", &['8']),
    ("020", &['3', '8']),
    ("0755", &['2', '8']),
];

fn suppliers(rng: &mut ChaCha8Rng) -> String {
    let mut table = Table::new("code,name,trade,phone,email");
    for (code, name, trade, city) in SUPPLIERS {
        let (area, firsts) = LANDLINES[city];
        let first = firsts.choose(rng).expect("a first digit");
        let phone = format!("{area}-{first}{:07}", rng.random_range(0..10_000_000));
        let email = format!("service@{}.example.cn", code.to_ascii_lowercase());
        table.row([code, name, trade, &phone, &email]);
    }
    table.finish()
}

/// Component, the supplier trade that warrants it, warranty months.
const COMPONENTS: [(&str, &str, u32); 6] = [
    ("kitchen", "kitchen", 24),
    ("windows", "windows", 60),
    ("waterproofing", "waterproofing", 60),
    ("electrical", "electrical", 24),
    ("doors", "doors", 24),
    ("light_fitting", "lighting", 6),
];

/// Every unit's components; each project has one supplier per trade.
fn components(rng: &mut ChaCha8Rng, units: &[Unit]) -> String {
    let mut chosen = Vec::new();
    for _ in &PROJECTS {
        chosen.push(COMPONENTS.map(|(_, trade, _)| {
            let candidates: Vec<&str> = SUPPLIERS
                .iter()
                .filter(|s| s.2 == trade)
                .map(|s| s.0)
                .collect();
            *candidates.choose(rng).expect("a supplier of every trade")
        }));
    }
    let mut table = Table::new("unit_code,component,supplier_code,warranty_months");
    for unit in units {
        let code = unit.code();
        for ((component, _, months), supplier) in COMPONENTS.iter().zip(&chosen[unit.project]) {
            table.row([code.as_str(), component, supplier, &months.to_string()]);
        }
    }
    table.finish()
}

// ---------------------------------------------------------------------------------------------
// Staff

const STAFF_HEADER: &str =
    "code,name,role,department,phone,email,region_code,project_code,categories,head_code";

/// Departments with a head in every project.
const HEADED: [&str; 3] = ["工程", "物业", "客服"];

/// A responsible person's department, the index in [`HEADED`] of their head, and categories.
const RESPONSIBLE: [(&str, usize, &str); 4] = [
    ("工程", 0, "materials;construction_quality"),
    ("设计", 0, "planning_design"),
    ("物业", 1, "property_management"),
    ("客服", 2, "customer_service_sales"),
];

/// Staff rows being written, with distinct names and numbered codes.
struct StaffBook<'a> {
    table: Table,
    rng: &'a mut ChaCha8Rng,
    phones: &'a mut PhoneSource,
    names: HashSet<String>,
}

impl StaffBook<'_> {
    /// Adds a person placed at `[region_code, project_code, categories, head_code]`; returns the code.
    fn add(&mut self, role: &str, department: &str, place: [&str; 4]) -> String {
        let code = format!("S{:03}", self.names.len() + 1);
        let name = loop {
            let name = chinese_name(self.rng);
            if self.names.insert(name.clone()) {
                break name;
            }
        };
        let email = format!("{}@huifang.example.cn", code.to_ascii_lowercase());
        let phone = self.phones.next_phone();
        let [region, project, categories, head] = place;
        let fields = [
            code.as_str(),
            &name,
            role,
            department,
            &phone,
            &email,
            region,
            project,
        ];
        self.table.row(fields.into_iter().chain([categories, head]));
        code
    }
}

fn staff(rng: &mut ChaCha8Rng, phones: &mut PhoneSource) -> String {
    let (table, names) = (Table::new(STAFF_HEADER), HashSet::new());
    let mut book = StaffBook {
        table,
        rng,
        phones,
        names,
    };
    book.add("group_vp", "集团", [""; 4]);
    for (region, _) in REGIONS {
        book.add("regional_gm", "区域公司", [region, "", "", ""]);
    }
    for project in &PROJECTS {
        let (region, code) = (REGIONS[project.region].0, project.code);
        let heads = HEADED
            .map(|department| book.add("department_head", department, [region, code, "", ""]));
        for (department, head, categories) in RESPONSIBLE {
            let place = [region, code, categories, &heads[head]];
            book.add("responsible", department, place);
        }
    }
    for _ in 0..2 {
        book.add("supervisor", "客服中心", [""; 4]);
    }
    for _ in 0..6 {
        book.add("agent", "客服中心", [""; 4]);
    }
    book.table.finish()
}

// ---------------------------------------------------------------------------------------------
// Owners

const OWNER_HEADER: &str =
    "code,name,phones,email,language,time_zone,consent_voice,consent_sms,consent_email,units";

/// Share of units not sold yet (no owner).
const UNSOLD: f64 = 0.02;

/// Share of owners with two units.
const TWO_UNITS: f64 = 0.05;

fn owners(rng: &mut ChaCha8Rng, phones: &mut PhoneSource, units: &[Unit]) -> String {
    let mut sold: Vec<String> = units
        .iter()
        .filter(|_| !rng.random_bool(UNSOLD))
        .map(Unit::code)
        .collect();
    sold.shuffle(rng);
    let mut table = Table::new(OWNER_HEADER);
    let mut rest = sold.as_slice();
    for n in 1.. {
        let two = rest.len() >= 2 && rng.random_bool(TWO_UNITS);
        let take = if two { 2 } else { rest.len().min(1) };
        let (mine, others) = rest.split_at(take);
        if mine.is_empty() {
            break;
        }
        rest = others;
        let (code, owned) = (format!("O{n:05}"), mine.join(";"));
        table.row(owner(rng, phones, &code, &owned));
    }
    table.finish()
}

/// `yes` with probability `p`, else `no`.
fn pick<'a>(rng: &mut ChaCha8Rng, p: f64, yes: &'a str, no: &'a str) -> &'a str {
    if rng.random_bool(p) { yes } else { no }
}

/// One owners.csv row.
fn owner(rng: &mut ChaCha8Rng, phones: &mut PhoneSource, code: &str, units: &str) -> [String; 10] {
    let name = chinese_name(rng);
    let mut numbers = phones.next_phone();
    if rng.random_bool(0.2) {
        numbers.push(';');
        numbers.push_str(&phones.next_phone());
    }
    let email = format!("{}@example.cn", code.to_ascii_lowercase());
    let email = pick(rng, 0.6, &email, "");
    let language = pick(rng, 0.95, "zh-CN", "en");
    let time_zone = pick(rng, 0.97, "Asia/Shanghai", "Asia/Hong_Kong");
    let [voice, sms, mail] = [0.97, 0.92, 0.85].map(|p| pick(rng, p, "1", "0"));
    let fields = [
        code, &name, &numbers, email, language, time_zone, voice, sms, mail, units,
    ];
    fields.map(String::from)
}

/// Common surnames, the most common first.
const SURNAMES: &str = concat!(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡",
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史"
);

/// Characters of given names.
const GIVEN: &str = concat!(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红鹏辉建国志文斌宇浩凯欣怡",
    "佳琪子涵梓轩晨雨思博嘉俊婷雪慧颖瑞鑫海波宁飞峰丹亮成晓春燕梅立新云阳晶洁悦诗可安"
);

/// A surname (half the time one of the ten commonest) and a given name of one or two characters.
fn chinese_name(rng: &mut ChaCha8Rng) -> String {
    let within = if rng.random_bool(0.5) { 10 } else { usize::MAX };
    let mut name = String::from(any_char(rng, SURNAMES, within));
    let length = if rng.random_bool(0.3) { 1 } else { 2 };
    (0..length).for_each(|_| name.push(any_char(rng, GIVEN, usize::MAX)));
    name
}

/// One of the first `within` characters of `chars`, uniformly.
fn any_char(rng: &mut ChaCha8Rng, chars: &str, within: usize) -> char {
    let n = chars.chars().count().min(within);
    let i = rng.random_range(0..n);
    chars.chars().nth(i).expect("a character")
}

// ---------------------------------------------------------------------------------------------
// Phones and CSV

/// Mobile prefixes; each is followed by eight digits.
const MOBILE_PREFIXES: [u32; 29] = [
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159,
    180, 181, 182, 183, 184, 185, 186, 187, 188, 189,
];

/// Numbers after each prefix.
const SUFFIXES: u32 = 100_000_000;

/// Where the numbers of [`write_owners`] start in the permutation; `generate` uses fewer.
const SYNTHETIC_PHONES: u32 = 10_000_000;

/// Distinct mobile numbers without memory of the ones given: the n-th number is the image of
/// n under a seeded bijection of `0..29 × 10⁸` (a Feistel network on 32 bits, cycle-walked).
struct PhoneSource {
    keys: [u32; 6],
    next: u32,
}

impl PhoneSource {
    /// A permutation keyed by the next draws of `rng`, starting at its `first`-th number.
    fn new(rng: &mut ChaCha8Rng, first: u32) -> PhoneSource {
        let keys = std::array::from_fn(|_| rng.random());
        PhoneSource { keys, next: first }
    }

    /// The next number, like `13912345678`. Panics after 2.9 billion numbers.
    fn next_phone(&mut self) -> String {
        let space = MOBILE_PREFIXES.len() as u32 * SUFFIXES;
        assert!(self.next < space, "all mobile numbers given");
        let mut x = self.permute(self.next);
        while x >= space {
            x = self.permute(x);
        }
        self.next += 1;
        format!(
            "{}{:08}",
            MOBILE_PREFIXES[(x / SUFFIXES) as usize],
            x % SUFFIXES
        )
    }

    fn permute(&self, x: u32) -> u32 {
        let (mut left, mut right) = (x >> 16, x & 0xFFFF);
        for key in self.keys {
            let mut h = (right ^ key).wrapping_mul(0x9E37_79B1);
            h ^= h >> 15;
            h = h.wrapping_mul(0x85EB_CA6B);
            (left, right) = (right, left ^ (h >> 16));
        }
        (left << 16) | right
    }
}

/// A CSV text being written to memory.
struct Table(csv::Writer<Vec<u8>>);

impl Table {
    /// A table with the comma-separated `header`.
    fn new(header: &str) -> Table {
        let mut table = Table(csv::Writer::from_writer(Vec::new()));
        table.row(header.split(','));
        table
    }

    fn row<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(&mut self, fields: I) {
        self.0
            .write_record(fields)
            .expect("writing to memory cannot fail");
    }

    fn finish(self) -> String {
        let bytes = self.0.into_inner().expect("flushing to memory cannot fail");
        String::from_utf8(bytes).expect("the fields are UTF-8")
    }
}

#[cfg(test)]
mod tests;
