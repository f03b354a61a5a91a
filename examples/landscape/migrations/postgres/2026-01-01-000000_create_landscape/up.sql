CREATE TABLE projects (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    client TEXT NOT NULL,
    budget DOUBLE PRECISION NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'planning',
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE sites (
    id SERIAL PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    area_m2 DOUBLE PRECISION NOT NULL,
    soil TEXT NOT NULL
);
CREATE INDEX sites_project_id ON sites (project_id);

CREATE TABLE plants (
    id INTEGER PRIMARY KEY NOT NULL,
    common_name TEXT NOT NULL,
    latin_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    hardiness_zone INTEGER NOT NULL,
    mature_height_cm INTEGER NOT NULL,
    price_cents INTEGER NOT NULL,
    search_text TEXT NOT NULL
);

CREATE TABLE plantings (
    id SERIAL PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    plant_id INTEGER NOT NULL REFERENCES plants (id),
    quantity INTEGER NOT NULL
);
CREATE INDEX plantings_site_id ON plantings (site_id);

CREATE TABLE tasks (
    id SERIAL PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    hours DOUBLE PRECISION NOT NULL
);
CREATE INDEX tasks_project_id ON tasks (project_id);
CREATE INDEX tasks_site_id ON tasks (site_id);
