//! Statement shapes the plan capture accepts.

use super::*;

#[test]
fn only_a_single_select_is_explained() {
    assert_eq!(
        PlanShape::of("SELECT * FROM plants WHERE id = $1 AND zone = $3"),
        Some(PlanShape { params: 3, filtered: true })
    );
    assert_eq!(
        PlanShape::of("SELECT * FROM plants WHERE a = ? AND b = ?;"),
        Some(PlanShape { params: 2, filtered: true })
    );
    assert_eq!(PlanShape::of("select count(*) from plants"), Some(PlanShape { params: 0, filtered: false }));
    assert_eq!(
        PlanShape::of("WITH z AS (SELECT id FROM zones) SELECT * FROM z WHERE id = ?1"),
        Some(PlanShape { params: 1, filtered: true })
    );
    // A `;` inside a literal is no statement end.
    assert_eq!(PlanShape::of("SELECT ';' FROM plants"), Some(PlanShape { params: 0, filtered: false }));
    for refused in [
        "SELECT 1; DELETE FROM plants",
        "DELETE FROM plants WHERE id = $1",
        "UPDATE plants SET name = $1",
        "INSERT INTO plants VALUES (1)",
        "BEGIN",
        "PRAGMA table_info(plants)",
        "",
    ] {
        assert_eq!(PlanShape::of(refused), None, "{refused:?} must not be explained");
    }
}
