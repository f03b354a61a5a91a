//! The queries, written once and compiled for both backends by `on_conn!`.

use std::collections::HashMap;

use diesel::{
    dsl::{count_star, sum},
    prelude::*,
};

use crate::{
    AppError,
    db::{Db, on_conn},
    models::{
        CreateProject, Dashboard, NewProjectRow, Plant, PlantPage, Planting, PlantingLine, Project, ProjectChanges,
        ProjectReport, Site, SiteReport, Task,
    },
    schema::{plantings, plants, projects, sites, tasks},
};

/// Plants per page of `GET /api/plants`.
pub(crate) const PLANTS_PER_PAGE: i64 = 20;

pub(crate) fn list_projects(db: &Db) -> Result<Vec<Project>, AppError> {
    on_conn!(db, c => Ok(projects::table.order(projects::id).select(Project::as_select()).load(c)?))
}

pub(crate) fn get_project(db: &Db, id: i32) -> Result<Project, AppError> {
    on_conn!(db, c => projects::table.find(id).select(Project::as_select()).first(c).optional()?)
        .ok_or_else(|| not_found(id))
}

pub(crate) fn create_project(db: &Db, new: &CreateProject, status: &str) -> Result<Project, AppError> {
    let now = chrono::Utc::now().naive_utc();
    let row = NewProjectRow {
        name: &new.name,
        client: &new.client,
        budget: new.budget,
        status,
        created_at: now,
        updated_at: now,
    };
    on_conn!(db, c => Ok(diesel::insert_into(projects::table).values(&row).returning(Project::as_returning()).get_result(c)?))
}

pub(crate) fn update_project(db: &Db, id: i32, changes: ProjectChanges) -> Result<Project, AppError> {
    on_conn!(db, c => diesel::update(projects::table.find(id))
        .set(&changes)
        .returning(Project::as_returning())
        .get_result(c)
        .optional()?)
    .ok_or_else(|| not_found(id))
}

/// Deletes the project and its rows in one transaction; false when it did not exist.
pub(crate) fn delete_project(db: &Db, id: i32) -> Result<bool, AppError> {
    Ok(on_conn!(db, c => c.transaction(|c| {
        let site_ids = sites::table.filter(sites::project_id.eq(id)).select(sites::id);
        diesel::delete(plantings::table.filter(plantings::site_id.eq_any(site_ids))).execute(c)?;
        diesel::delete(tasks::table.filter(tasks::project_id.eq(id))).execute(c)?;
        diesel::delete(sites::table.filter(sites::project_id.eq(id))).execute(c)?;
        let n = diesel::delete(projects::table.find(id)).execute(c)?;
        Ok::<bool, diesel::result::Error>(n > 0)
    })?))
}

pub(crate) fn search_plants(db: &Db, search: &str, page: i64) -> Result<PlantPage, AppError> {
    let pattern = format!("%{}%", escape_like(search));
    let (plants, total) = on_conn!(db, c => {
        let matching = || plants::table.filter(plants::search_text.like(pattern.clone()).escape('\\'));
        let total: i64 = matching().count().get_result(c)?;
        let rows = matching()
            .order(plants::id)
            .limit(PLANTS_PER_PAGE)
            .offset((page - 1) * PLANTS_PER_PAGE)
            .select(Plant::as_select())
            .load(c)?;
        (rows, total)
    });
    Ok(PlantPage { plants, page, per_page: PLANTS_PER_PAGE, total, search: search.to_owned() })
}

/// The report with a fixed number of queries (`IN (...)` for related rows),
/// or with `naive`, one query per site and per planting: the N+1 shape.
pub(crate) fn project_report(db: &Db, id: i32, naive: bool) -> Result<ProjectReport, AppError> {
    let (project, site_rows, task_rows, planting_rows, plant_rows) = on_conn!(db, c => {
        let project = projects::table.find(id).select(Project::as_select()).first(c).optional()?
            .ok_or_else(|| not_found(id))?;
        let site_rows: Vec<Site> =
            sites::table.filter(sites::project_id.eq(id)).order(sites::id).select(Site::as_select()).load(c)?;
        let mut task_rows: Vec<Task> = Vec::new();
        let mut planting_rows: Vec<Planting> = Vec::new();
        let mut plant_rows: Vec<Plant> = Vec::new();
        if naive {
            for site in &site_rows {
                task_rows.extend(
                    tasks::table.filter(tasks::site_id.eq(site.id)).order(tasks::id).select(Task::as_select()).load(c)?,
                );
                let lines: Vec<Planting> = plantings::table
                    .filter(plantings::site_id.eq(site.id))
                    .order(plantings::id)
                    .select(Planting::as_select())
                    .load(c)?;
                for line in &lines {
                    plant_rows.push(plants::table.find(line.plant_id).select(Plant::as_select()).first(c)?);
                }
                planting_rows.extend(lines);
            }
        } else {
            let site_ids: Vec<i32> = site_rows.iter().map(|s| s.id).collect();
            task_rows = tasks::table.filter(tasks::project_id.eq(id)).order(tasks::id).select(Task::as_select()).load(c)?;
            planting_rows = plantings::table
                .filter(plantings::site_id.eq_any(&site_ids))
                .order(plantings::id)
                .select(Planting::as_select())
                .load(c)?;
            let plant_ids: Vec<i32> = planting_rows.iter().map(|p| p.plant_id).collect();
            plant_rows = plants::table.filter(plants::id.eq_any(&plant_ids)).select(Plant::as_select()).load(c)?;
        }
        (project, site_rows, task_rows, planting_rows, plant_rows)
    });
    let plants_by_id: HashMap<i32, Plant> = plant_rows.into_iter().map(|p| (p.id, p)).collect();
    let mut plant_cost_cents = 0;
    let mut open_task_hours = 0.0;
    let sites = site_rows
        .into_iter()
        .map(|site| {
            let lines: Vec<PlantingLine> = planting_rows
                .iter()
                .filter(|p| p.site_id == site.id)
                .filter_map(|p| {
                    plants_by_id.get(&p.plant_id).map(|plant| PlantingLine {
                        planting_id: p.id,
                        quantity: p.quantity,
                        plant: plant.clone(),
                    })
                })
                .collect();
            let cost: i64 = lines.iter().map(|l| i64::from(l.quantity) * i64::from(l.plant.price_cents)).sum();
            plant_cost_cents += cost;
            let site_tasks: Vec<Task> = task_rows.iter().filter(|t| t.site_id == site.id).cloned().collect();
            open_task_hours += site_tasks.iter().filter(|t| t.status != "done").map(|t| t.hours).sum::<f64>();
            SiteReport { site, plantings: lines, tasks: site_tasks, plant_cost_cents: cost }
        })
        .collect();
    Ok(ProjectReport { project, sites, plant_cost_cents, open_task_hours, naive })
}

/// The firm-wide aggregate: several grouped scans over every table.
pub(crate) fn dashboard(db: &Db) -> Result<Dashboard, AppError> {
    on_conn!(db, c => {
        let projects_by_status: Vec<(String, i64)> = projects::table
            .group_by(projects::status)
            .select((projects::status, count_star()))
            .order(projects::status)
            .load(c)?;
        let total_budget: Option<f64> = projects::table.select(sum(projects::budget)).get_result(c)?;
        let sites_count: i64 = sites::table.count().get_result(c)?;
        let total_area: Option<f64> = sites::table.select(sum(sites::area_m2)).get_result(c)?;
        let placed: Option<i64> = plantings::table.select(sum(plantings::quantity)).get_result(c)?;
        let cost: Option<i64> = plantings::table
            .inner_join(plants::table)
            .select(sum(plantings::quantity * plants::price_cents))
            .get_result(c)?;
        let tasks_by_status: Vec<(String, i64)> = tasks::table
            .group_by(tasks::status)
            .select((tasks::status, count_star()))
            .order(tasks::status)
            .load(c)?;
        let mut top_plants: Vec<(String, Option<i64>)> = plantings::table
            .inner_join(plants::table)
            .group_by((plants::id, plants::common_name))
            .select((plants::common_name, sum(plantings::quantity)))
            .load(c)?;
        top_plants.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top_plants.truncate(5);
        let catalogue_by_kind: Vec<(String, i64)> = plants::table
            .group_by(plants::kind)
            .select((plants::kind, count_star()))
            .order(plants::kind)
            .load(c)?;
        Ok(Dashboard {
            projects: projects_by_status.iter().map(|(_, n)| n).sum(),
            projects_by_status,
            total_budget: total_budget.unwrap_or(0.0),
            sites: sites_count,
            total_area_m2: total_area.unwrap_or(0.0),
            plants_placed: placed.unwrap_or(0),
            plant_cost_cents: cost.unwrap_or(0),
            tasks_by_status,
            top_plants: top_plants.into_iter().map(|(n, q)| (n, q.unwrap_or(0))).collect(),
            catalogue_by_kind,
            computed_at: chrono::Utc::now().naive_utc(),
        })
    })
}

fn not_found(id: i32) -> AppError {
    AppError::NotFound(format!("no project with id {id}"))
}

/// Escapes LIKE wildcards so a search matches them literally.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
