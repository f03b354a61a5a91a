DROP TABLE tasks;
DROP TABLE plantings;
DROP TABLE plants;
DROP TABLE sites;
DROP TABLE projects;
