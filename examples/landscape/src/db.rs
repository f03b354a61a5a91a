//! The connection pool over SQLite or PostgreSQL, migrations and the seed data.
//!
//! [`Db`] holds one of two r2d2 pools and an [`OutageLatch`]. Repository
//! code is written once and compiled for each backend by the [`on_conn!`]
//! macro, which keeps handlers free of backend generics; every check-out
//! goes through the latch, so a known outage is answered at once.

use std::{path::Path, sync::Arc, time::Duration};

use diesel::{
    connection::SimpleConnection,
    pg::PgConnection,
    prelude::*,
    r2d2::{ConnectionManager, CustomizeConnection, Pool},
    sqlite::SqliteConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use perfkit::{Perfkit, QueryMonitor};

use crate::{
    models::{NewPlanting, NewProjectRow, NewSite, NewTask, Plant},
    outage::{CheckoutError, OutageLatch},
    schema::{plantings, plants, projects, sites, tasks},
};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Plants in the seeded catalogue.
pub const SEEDED_PLANTS: usize = GENERA.len() * VARIETIES.len();
/// Projects seeded into an empty database.
pub const SEEDED_PROJECTS: usize = 20;
/// Sites per seeded project.
pub const SITES_PER_PROJECT: usize = 3;
/// Plantings per seeded site.
pub const PLANTINGS_PER_SITE: usize = 4;
/// Tasks per seeded site.
pub const TASKS_PER_SITE: usize = 2;

/// How long a request waits for a pooled connection before it is answered
/// 503 `database_unavailable`. Short, because during an outage the first
/// requests wait this long (later ones are answered at once by the latch).
pub const POOL_CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the outage probe tries the pool while the database is down.
pub const OUTAGE_PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// How long each probe waits for a connection.
pub const OUTAGE_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A pool of SQLite or PostgreSQL connections, each monitored by perf-db,
/// behind an [`OutageLatch`].
#[derive(Clone)]
pub struct Db {
    pub(crate) pools: Pools,
    pub(crate) latch: Arc<OutageLatch>,
}

/// The pool of the configured backend.
#[derive(Clone)]
pub(crate) enum Pools {
    /// SQLite, the default (a file under the data directory).
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    /// PostgreSQL, when `DATABASE_URL` is a `postgres://` URL.
    Postgres(Pool<ConnectionManager<PgConnection>>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.backend())
    }
}

/// Runs `$body` with `$conn` bound to a `&mut` pooled connection of the
/// pool's backend, taken through the outage latch; the body is compiled
/// once per backend.
macro_rules! on_conn {
    ($db:expr, $conn:ident => $body:expr) => {{
        let db: &$crate::db::Db = $db;
        match &db.pools {
            $crate::db::Pools::Sqlite(pool) => {
                let mut pooled = db.latch.checkout(pool)?;
                let $conn: &mut diesel::sqlite::SqliteConnection = &mut pooled;
                $body
            }
            $crate::db::Pools::Postgres(pool) => {
                let mut pooled = db.latch.checkout(pool)?;
                let $conn: &mut diesel::pg::PgConnection = &mut pooled;
                $body
            }
        }
    }};
}
pub(crate) use on_conn;

/// Runs pending migrations on `$conn` and seeds an empty database, in one
/// transaction, on a connection outside the monitored pool (start-up work
/// is not service traffic).
macro_rules! migrate_and_seed {
    ($conn:ident, $migrations:expr, $backend:expr) => {{
        let conn = &mut $conn;
        let applied =
            conn.run_pending_migrations($migrations).map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
        if !applied.is_empty() {
            tracing::info!(count = applied.len(), backend = $backend, "database migrations applied");
        }
        let have: i64 = plants::table.count().get_result(conn)?;
        if have == 0 {
            conn.transaction(|conn| {
                let catalogue = plant_catalogue();
                for chunk in catalogue.chunks(100) {
                    diesel::insert_into(plants::table).values(chunk).execute(conn)?;
                }
                let now = chrono::Utc::now().naive_utc();
                for p in 0..SEEDED_PROJECTS {
                    let name = format!("{} #{}", PROJECT_NAMES[p % PROJECT_NAMES.len()], p + 1);
                    let row = NewProjectRow {
                        name: &name,
                        client: CLIENTS[p % CLIENTS.len()],
                        budget: 25_000.0 + (p as f64) * 7_500.0,
                        status: crate::models::PROJECT_STATUSES[p % 3],
                        created_at: now,
                        updated_at: now,
                    };
                    let project_id: i32 =
                        diesel::insert_into(projects::table).values(&row).returning(projects::id).get_result(conn)?;
                    for s in 0..SITES_PER_PROJECT {
                        let site = NewSite {
                            project_id,
                            name: format!("{} {}", ["North lawn", "Terrace", "Entrance"][s % 3], p + 1),
                            area_m2: 120.0 + ((p * 31 + s * 17) % 400) as f64,
                            soil: SOILS[(p + s) % SOILS.len()].to_owned(),
                        };
                        let site_id: i32 =
                            diesel::insert_into(sites::table).values(&site).returning(sites::id).get_result(conn)?;
                        let lines: Vec<NewPlanting> = (0..PLANTINGS_PER_SITE)
                            .map(|k| NewPlanting {
                                site_id,
                                plant_id: 1 + ((p * 97 + s * 41 + k * 13) % SEEDED_PLANTS) as i32,
                                quantity: 1 + ((p + s + k) % 12) as i32,
                            })
                            .collect();
                        diesel::insert_into(plantings::table).values(&lines).execute(conn)?;
                        let todo: Vec<NewTask> = (0..TASKS_PER_SITE)
                            .map(|k| NewTask {
                                project_id,
                                site_id,
                                title: TASKS[(s + k) % TASKS.len()].to_owned(),
                                status: TASK_STATUSES[(p + k) % TASK_STATUSES.len()].to_owned(),
                                hours: 2.0 + ((p + s * 3 + k) % 10) as f64,
                            })
                            .collect();
                        diesel::insert_into(tasks::table).values(&todo).execute(conn)?;
                    }
                }
                Ok::<(), diesel::result::Error>(())
            })?;
            tracing::info!(plants = SEEDED_PLANTS, projects = SEEDED_PROJECTS, "demo data seeded");
        }
    }};
}

/// Enables what SQLite needs for a web service on every new connection.
#[derive(Debug)]
struct SqlitePragmas {
    monitor: QueryMonitor,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // WAL lets readers run beside the writer; the busy timeout makes a
        // second writer wait instead of failing with SQLITE_BUSY.
        conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
            .map_err(diesel::r2d2::Error::QueryError)?;
        CustomizeConnection::<SqliteConnection, diesel::r2d2::Error>::on_acquire(&self.monitor, conn)
    }
}

impl Db {
    /// Opens the database named by `database_url` (a `postgres://` or
    /// `postgresql://` URL), or else the SQLite file `landscape.db` in
    /// `data_dir`; every connection gets perfkit's query monitor, which
    /// also captures slow SELECTs' plans on a connection of its own when
    /// `PERFORMANCE_QUERY_PLANS` is on. Runs pending migrations
    /// and seeds an empty database. A request waits at most
    /// [`POOL_CONNECTION_TIMEOUT`] for a connection.
    ///
    /// # Errors
    /// When the database cannot be opened, migrated or seeded.
    pub fn open(database_url: Option<&str>, data_dir: &Path, perf: &Perfkit) -> anyhow::Result<Db> {
        let pools = match database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let plans_url = url.to_owned();
                let monitor = perf.query_monitor_with_plans(move || PgConnection::establish(&plans_url))?;
                let mut setup = PgConnection::establish(url)?;
                // Start-up work is monitored too: outside any request, it is
                // shown as background queries, apart from the request figures.
                setup.set_instrumentation(monitor.clone());
                migrate_and_seed!(setup, POSTGRES_MIGRATIONS, "postgres");
                let pool = Pool::builder()
                    .max_size(8)
                    .min_idle(Some(1))
                    .connection_timeout(POOL_CONNECTION_TIMEOUT)
                    .connection_customizer(Box::new(monitor))
                    .build(ConnectionManager::<PgConnection>::new(url))?;
                Pools::Postgres(pool)
            }
            Some(url) => anyhow::bail!(
                "DATABASE_URL must be a postgres:// URL (unset it for SQLite), got {:?}",
                perf_core::redact_url(url)
            ),
            None => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", data_dir.display()))?;
                let path = data_dir.join("landscape.db");
                let path = path.to_string_lossy();
                let plans_path = path.to_string();
                let monitor = perf.query_monitor_with_plans(move || SqliteConnection::establish(&plans_path))?;
                let mut setup = SqliteConnection::establish(&path)?;
                setup.set_instrumentation(monitor.clone());
                setup.batch_execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")?;
                migrate_and_seed!(setup, SQLITE_MIGRATIONS, "sqlite");
                drop(setup);
                let pool = Pool::builder()
                    .max_size(4)
                    .min_idle(Some(1))
                    .connection_timeout(POOL_CONNECTION_TIMEOUT)
                    .connection_customizer(Box::new(SqlitePragmas { monitor }))
                    .build(ConnectionManager::<SqliteConnection>::new(path))?;
                Pools::Sqlite(pool)
            }
        };
        Ok(Db { pools, latch: OutageLatch::new(OUTAGE_PROBE_INTERVAL, OUTAGE_PROBE_TIMEOUT) })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.pools {
            Pools::Sqlite(_) => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }

    /// Whether the database is known to be down (requests are answered 503
    /// without waiting until the probe sees it back).
    pub fn is_down(&self) -> bool {
        self.latch.is_down()
    }

    /// Takes a connection (its check-out ping is pool housekeeping, not a
    /// recorded query) and gives it back: the database is reachable.
    ///
    /// # Errors
    /// When the database is down or the pool timed out.
    pub fn check(&self) -> Result<(), CheckoutError> {
        match &self.pools {
            Pools::Sqlite(pool) => self.latch.checkout(pool).map(drop),
            Pools::Postgres(pool) => self.latch.checkout(pool).map(drop),
        }
    }
}

const GENERA: [(&str, &str, &str); 25] = [
    ("Oak", "Quercus", "tree"),
    ("Maple", "Acer", "tree"),
    ("Birch", "Betula", "tree"),
    ("Beech", "Fagus", "tree"),
    ("Willow", "Salix", "tree"),
    ("Magnolia", "Magnolia", "tree"),
    ("Pine", "Pinus", "conifer"),
    ("Yew", "Taxus", "conifer"),
    ("Juniper", "Juniperus", "conifer"),
    ("Rose", "Rosa", "shrub"),
    ("Boxwood", "Buxus", "shrub"),
    ("Hydrangea", "Hydrangea", "shrub"),
    ("Holly", "Ilex", "shrub"),
    ("Heather", "Calluna", "shrub"),
    ("Lavender", "Lavandula", "perennial"),
    ("Sage", "Salvia", "perennial"),
    ("Hosta", "Hosta", "perennial"),
    ("Peony", "Paeonia", "perennial"),
    ("Cranesbill", "Geranium", "perennial"),
    ("Fern", "Dryopteris", "fern"),
    ("Silver Grass", "Miscanthus", "grass"),
    ("Clematis", "Clematis", "climber"),
    ("Ivy", "Hedera", "climber"),
    ("Tulip", "Tulipa", "bulb"),
    ("Daffodil", "Narcissus", "bulb"),
];

const VARIETIES: [(&str, &str); 20] = [
    ("Red", "rubra"),
    ("White", "alba"),
    ("Golden", "aurea"),
    ("Dwarf", "nana"),
    ("Giant", "gigantea"),
    ("Weeping", "pendula"),
    ("Japanese", "japonica"),
    ("Chinese", "chinensis"),
    ("Mountain", "montana"),
    ("Marsh", "palustris"),
    ("Woodland", "sylvatica"),
    ("Coastal", "maritima"),
    ("Silver", "argentea"),
    ("Purple", "purpurea"),
    ("Scented", "odorata"),
    ("Evergreen", "sempervirens"),
    ("Spreading", "patens"),
    ("Upright", "stricta"),
    ("Early", "praecox"),
    ("Alpine", "alpina"),
];

/// The catalogue: every genus in every variety, the same on every run.
pub fn plant_catalogue() -> Vec<Plant> {
    let mut out = Vec::with_capacity(SEEDED_PLANTS);
    for (g, (common, genus, kind)) in GENERA.iter().enumerate() {
        for (v, (adjective, epithet)) in VARIETIES.iter().enumerate() {
            let id = (g * VARIETIES.len() + v + 1) as i32;
            let base_height = match *kind {
                "tree" => 1_200,
                "conifer" => 900,
                "shrub" => 150,
                "climber" => 400,
                _ => 60,
            };
            let common_name = format!("{adjective} {common}");
            let latin_name = format!("{genus} {epithet}");
            let search_text = format!("{common_name} {latin_name} {kind}").to_lowercase();
            out.push(Plant {
                id,
                common_name,
                latin_name,
                kind: (*kind).to_owned(),
                hardiness_zone: 3 + ((g * 3 + v) % 8) as i32,
                mature_height_cm: base_height + ((id * 37) % 200),
                price_cents: 450 + ((id * 7_919) % 25_000),
                search_text,
            });
        }
    }
    out
}

const PROJECT_NAMES: [&str; 5] =
    ["Riverside Park", "Rooftop Garden", "Courtyard Renewal", "School Playground", "Memorial Grove"];
const CLIENTS: [&str; 4] = ["City of Lyon", "Hotel Belvedere", "Green Schools Trust", "Maison Duval"];
const SOILS: [&str; 4] = ["loam", "clay", "sand", "chalk"];
const TASKS: [&str; 4] = ["Survey the site", "Prepare the soil", "Plant", "Install irrigation"];
const TASK_STATUSES: [&str; 3] = ["todo", "doing", "done"];
