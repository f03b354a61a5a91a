//! Rows as loaded from the database and the JSON bodies the API accepts.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::schema::{plantings, plants, projects, sites, tasks};

/// The statuses a project may have.
pub(crate) const PROJECT_STATUSES: [&str; 4] = ["planning", "active", "on_hold", "completed"];

/// A client project.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize, PartialEq)]
#[diesel(table_name = projects, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Project {
    /// Its id.
    pub id: i32,
    /// Its name.
    pub name: String,
    /// The client it is for.
    pub client: String,
    /// Budget, in the firm's currency.
    pub budget: f64,
    /// One of `planning`, `active`, `on_hold`, `completed`.
    pub status: String,
    /// When it was created (UTC).
    pub created_at: NaiveDateTime,
    /// When it last changed (UTC).
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = projects)]
pub(crate) struct NewProjectRow<'a> {
    pub(crate) name: &'a str,
    pub(crate) client: &'a str,
    pub(crate) budget: f64,
    pub(crate) status: &'a str,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) updated_at: NaiveDateTime,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = projects)]
pub(crate) struct ProjectChanges {
    pub(crate) name: Option<String>,
    pub(crate) client: Option<String>,
    pub(crate) budget: Option<f64>,
    pub(crate) status: Option<String>,
    pub(crate) updated_at: Option<NaiveDateTime>,
}

/// A site (garden, courtyard, roof) within a project.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize, PartialEq)]
#[diesel(table_name = sites, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Site {
    /// Its id.
    pub id: i32,
    /// The project it belongs to.
    pub project_id: i32,
    /// Its name.
    pub name: String,
    /// Area in square metres.
    pub area_m2: f64,
    /// Soil type.
    pub soil: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sites)]
pub(crate) struct NewSite {
    pub(crate) project_id: i32,
    pub(crate) name: String,
    pub(crate) area_m2: f64,
    pub(crate) soil: String,
}

/// A plant of the catalogue.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize, PartialEq)]
#[diesel(table_name = plants, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Plant {
    /// Its id.
    pub id: i32,
    /// Common name, e.g. "Weeping Willow".
    pub common_name: String,
    /// Botanical name, e.g. "Salix pendula".
    pub latin_name: String,
    /// tree, shrub, perennial, fern, grass, ...
    pub kind: String,
    /// USDA hardiness zone.
    pub hardiness_zone: i32,
    /// Height when mature, cm.
    pub mature_height_cm: i32,
    /// Nursery price, cents.
    pub price_cents: i32,
    /// Lower-case text the search looks in.
    #[serde(skip)]
    pub search_text: String,
}

/// Plants placed on a site.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize, PartialEq)]
#[diesel(table_name = plantings, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Planting {
    /// Its id.
    pub id: i32,
    /// The site.
    pub site_id: i32,
    /// The plant.
    pub plant_id: i32,
    /// How many.
    pub quantity: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = plantings)]
pub(crate) struct NewPlanting {
    pub(crate) site_id: i32,
    pub(crate) plant_id: i32,
    pub(crate) quantity: i32,
}

/// A task of a project, on one of its sites.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize, PartialEq)]
#[diesel(table_name = tasks, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Task {
    /// Its id.
    pub id: i32,
    /// The project.
    pub project_id: i32,
    /// The site.
    pub site_id: i32,
    /// What to do.
    pub title: String,
    /// `todo`, `doing` or `done`.
    pub status: String,
    /// Estimated hours.
    pub hours: f64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tasks)]
pub(crate) struct NewTask {
    pub(crate) project_id: i32,
    pub(crate) site_id: i32,
    pub(crate) title: String,
    pub(crate) status: String,
    pub(crate) hours: f64,
}

/// `POST /api/projects`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateProject {
    pub(crate) name: String,
    pub(crate) client: String,
    #[serde(default)]
    pub(crate) budget: f64,
    #[serde(default)]
    pub(crate) status: Option<String>,
}

/// `PUT /api/projects/{id}`: any subset of the fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateProject {
    pub(crate) name: Option<String>,
    pub(crate) client: Option<String>,
    pub(crate) budget: Option<f64>,
    pub(crate) status: Option<String>,
}

/// A site with its plantings and tasks, as the report shows it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct SiteReport {
    /// The site.
    #[serde(flatten)]
    pub site: Site,
    /// Its plantings, each with its plant.
    pub plantings: Vec<PlantingLine>,
    /// Its tasks.
    pub tasks: Vec<Task>,
    /// Sum of quantity × price over its plantings, cents.
    pub plant_cost_cents: i64,
}

/// One planting line of a report.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct PlantingLine {
    /// The planting.
    pub planting_id: i32,
    /// How many.
    pub quantity: i32,
    /// The plant.
    pub plant: Plant,
}

/// `GET /api/projects/{id}/report`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ProjectReport {
    /// The project.
    pub project: Project,
    /// Its sites with their rows.
    pub sites: Vec<SiteReport>,
    /// Sum over the sites, cents.
    pub plant_cost_cents: i64,
    /// Hours of tasks not done.
    pub open_task_hours: f64,
    /// Whether the rows were loaded one query per row.
    pub naive: bool,
}

/// `GET /api/plants`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct PlantPage {
    /// The plants on this page.
    pub plants: Vec<Plant>,
    /// The page (from 1).
    pub page: i64,
    /// Plants per page.
    pub per_page: i64,
    /// Plants matching the search.
    pub total: i64,
    /// The search text, lower-cased.
    pub search: String,
}

/// `GET /api/dashboard`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Dashboard {
    /// Number of projects.
    pub projects: i64,
    /// Projects per status.
    pub projects_by_status: Vec<(String, i64)>,
    /// Sum of project budgets.
    pub total_budget: f64,
    /// Number of sites.
    pub sites: i64,
    /// Total site area, m².
    pub total_area_m2: f64,
    /// Plants placed over all sites.
    pub plants_placed: i64,
    /// Their nursery cost, cents.
    pub plant_cost_cents: i64,
    /// Tasks per status.
    pub tasks_by_status: Vec<(String, i64)>,
    /// The most placed plants: (common name, quantity).
    pub top_plants: Vec<(String, i64)>,
    /// Catalogue plants per kind.
    pub catalogue_by_kind: Vec<(String, i64)>,
    /// When it was computed.
    pub computed_at: NaiveDateTime,
}
