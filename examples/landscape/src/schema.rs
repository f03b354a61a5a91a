//! The diesel schema, the same on SQLite and PostgreSQL (see `migrations/`).

diesel::table! {
    projects (id) {
        id -> Integer,
        name -> Text,
        client -> Text,
        budget -> Double,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sites (id) {
        id -> Integer,
        project_id -> Integer,
        name -> Text,
        area_m2 -> Double,
        soil -> Text,
    }
}

diesel::table! {
    plants (id) {
        id -> Integer,
        common_name -> Text,
        latin_name -> Text,
        kind -> Text,
        hardiness_zone -> Integer,
        mature_height_cm -> Integer,
        price_cents -> Integer,
        search_text -> Text,
    }
}

diesel::table! {
    plantings (id) {
        id -> Integer,
        site_id -> Integer,
        plant_id -> Integer,
        quantity -> Integer,
    }
}

diesel::table! {
    tasks (id) {
        id -> Integer,
        project_id -> Integer,
        site_id -> Integer,
        title -> Text,
        status -> Text,
        hours -> Double,
    }
}

diesel::joinable!(sites -> projects (project_id));
diesel::joinable!(plantings -> sites (site_id));
diesel::joinable!(plantings -> plants (plant_id));
diesel::joinable!(tasks -> projects (project_id));

diesel::allow_tables_to_appear_in_same_query!(projects, sites, plants, plantings, tasks);
