//! The store's read side: [`MetricsSource`] for [`Store`]. Window aggregates,
//! series, gauges and totals since start, read from the series' rings and the
//! gauge buckets; every query costs O(keys × buckets), never O(requests).

use super::{
    Origin, QuerySeries, Store,
    gauges::add_counts,
    series::{self, Acc, Collected, Geometry, Series},
};
use crate::{
    Aggregate, CacheCounts, EndpointStats, EndpointTotals, GaugePoint, Method, MetricsSource, OVERFLOW_FINGERPRINT,
    OVERFLOW_ROUTE, QueryStats, QueryTotals, SeriesKey, SeriesPoint, SeriesResolution, SlowQuery, SlowRequest,
    Snapshot, SystemStats, Timestamp, Totals, TotalsSnapshot, UNMATCHED_ROUTE, Window, histogram::Dense,
};

impl Store {
    /// The aggregate of one endpoint over `window`; `None` for an endpoint
    /// never seen. Costs O(buckets in the window).
    pub fn endpoint_aggregate(&self, method: Method, route: Option<&str>, window: Window) -> Option<Aggregate> {
        let series = match route {
            None => self.unmatched.clone(),
            Some(r) => self.endpoints.load().get(r).and_then(|slots| slots[method.index()].clone())?,
        };
        // Windows are aligned to roll-up buckets, and every sample reaches the
        // roll-up scalars together with the fine ones, so aggregates read the
        // roll-up tier: a sixth of the buckets for the same answer.
        let (start, end, _) = self.window_bounds(window, self.clock.now());
        let mut out = Collected::new();
        series.collect_into(start, end, &self.geometry, &mut out);
        Some(aggregate(&out))
    }

    /// Start (inclusive) and end (exclusive) of a window in microseconds,
    /// aligned to roll-up buckets, and whether the fine tier covers it.
    fn window_bounds(&self, window: Window, now: Timestamp) -> (u64, u64, bool) {
        let g = &self.geometry;
        let now_us = now.as_unix_micros();
        let buckets = (window.as_duration().as_micros() as u64).div_ceil(g.coarse_us).max(1);
        let end = (now_us / g.coarse_us + 1) * g.coarse_us;
        let start = end.saturating_sub(buckets * g.coarse_us);
        let oldest_fine = (now_us / g.fine_us + 1).saturating_sub(g.fine_n) * g.fine_us;
        (start, end, start >= oldest_fine)
    }

    fn each_endpoint(&self, mut f: impl FnMut(Method, &str, &Series)) {
        let map = self.endpoints.load();
        for (route, slots) in map.iter() {
            for (i, s) in slots.iter().enumerate() {
                if let Some(s) = s {
                    f(Method::ALL[i], route, s);
                }
            }
        }
        f(Method::Other, UNMATCHED_ROUTE, &self.unmatched);
        f(Method::Other, OVERFLOW_ROUTE, &self.endpoint_overflow);
    }

    fn each_query(&self, origin: Origin, mut f: impl FnMut(&str, &QuerySeries)) {
        let map = self.queries[origin as usize].load();
        for (fp, q) in map.iter() {
            f(fp, q);
        }
        f(OVERFLOW_FINGERPRINT, &self.query_overflow[origin as usize]);
    }

    /// The aggregate and per-fingerprint statistics of one origin's queries
    /// over `[start, end)`; `all` and `one` are scratch accumulators.
    fn query_aggregates(
        &self,
        origin: Origin,
        start: u64,
        end: u64,
        all: &mut Collected,
        one: &mut Collected,
    ) -> (Aggregate, Vec<QueryStats>) {
        all.reset();
        let mut stats = Vec::new();
        self.each_query(origin, |fp, q| {
            one.reset();
            q.series.collect_into(start, end, &self.geometry, one);
            if one.acc.count == 0 {
                return;
            }
            all.merge(one);
            stats.push(QueryStats {
                fingerprint: fp.to_owned(),
                example_sql: q.example_sql.to_string(),
                kind: q.kind,
                stats: aggregate(one),
                plan: None,
            });
        });
        let plans = self.plans.lock();
        for q in &mut stats {
            q.plan = plans.get(&q.fingerprint);
        }
        drop(plans);
        stats.sort_by(|a, b| {
            b.stats.total_time.total_cmp(&a.stats.total_time).then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        (aggregate(all), stats)
    }

    fn system_stats(&self, start: u64, end: u64, fine: bool) -> (SystemStats, CacheCounts) {
        let g = self.gauges.lock();
        let (slots, width) = if fine { (&g.fine, self.geometry.fine_us) } else { (&g.coarse, self.geometry.coarse_us) };
        let mut stats = SystemStats { current: g.last, ..SystemStats::default() };
        let mut cache = CacheCounts::default();
        let (mut rss_sum, mut cpu_sum) = (0.0, 0.0);
        for s in slots.iter().filter(|s| s.is_live()) {
            let t = s.epoch * width;
            if t < start || t >= end {
                continue;
            }
            stats.samples += s.samples;
            rss_sum += s.rss_sum;
            cpu_sum += s.cpu_sum;
            stats.max_rss_mb = stats.max_rss_mb.max(s.rss_max);
            stats.max_cpu_percent = stats.max_cpu_percent.max(s.cpu_max);
            add_counts(&mut cache, &s.cache);
        }
        if stats.samples > 0 {
            stats.avg_rss_mb = rss_sum / stats.samples as f64;
            stats.avg_cpu_percent = cpu_sum / stats.samples as f64;
        }
        (stats, cache)
    }
}

impl MetricsSource for Store {
    fn snapshot(&self, window: Window) -> Snapshot {
        let now = self.clock.now();
        // Aggregates read the roll-up tier (see `endpoint_aggregate`).
        let (start, end, _) = self.window_bounds(window, now);
        let g = &self.geometry;

        let mut all = Collected::new();
        let mut one = Collected::new();
        let mut endpoints = Vec::new();
        self.each_endpoint(|method, route, series| {
            one.reset();
            series.collect_into(start, end, g, &mut one);
            if one.acc.count == 0 {
                return;
            }
            all.merge(&one);
            endpoints.push(EndpointStats {
                method,
                route: route.to_owned(),
                queries_per_request: f64::from(one.acc.aux_count) / f64::from(one.acc.count),
                query_time_per_request: one.acc.aux_ns as f64 / 1e9 / f64::from(one.acc.count),
                stats: aggregate(&one),
            });
        });
        endpoints.sort_by(|a, b| b.stats.count.cmp(&a.stats.count).then_with(|| a.route.cmp(&b.route)));
        let requests = aggregate(&all);

        let (queries, query_stats) = self.query_aggregates(Origin::Request, start, end, &mut all, &mut one);
        let (background_queries, background_query_stats) =
            self.query_aggregates(Origin::Background, start, end, &mut all, &mut one);

        let (system, cache) = self.system_stats(start, end, false);
        let since = Timestamp::from_unix_micros(start);
        let slow_requests = self
            .slow_requests
            .lock()
            .iter_newest_first()
            .filter(|s| s.at >= since)
            .map(|s| SlowRequest {
                timestamp: s.at.to_datetime(),
                method: s.method,
                route: s.route.to_string(),
                status: s.status,
                duration: s.nanos as f64 / 1e9,
                trace_id: s.trace_id,
            })
            .collect();
        let slow_queries = self
            .slow_queries
            .lock()
            .iter_newest_first()
            .filter(|s| s.at >= since)
            .map(|s| SlowQuery {
                timestamp: s.at.to_datetime(),
                fingerprint: s.fingerprint.to_string(),
                sql: s.sql.clone(),
                duration: s.nanos as f64 / 1e9,
                ok: s.ok,
                scope: s.has_scope.then(|| s.scope.clone()),
                kind: s.kind,
                trace_id: s.trace_id,
            })
            .collect();
        let n_plus_one = self.n_plus_one.lock().findings(since);
        Snapshot {
            timestamp: now.to_datetime(),
            window,
            requests,
            endpoints,
            queries,
            query_stats,
            background_queries,
            background_query_stats,
            system,
            cache,
            slow_requests,
            slow_queries,
            n_plus_one,
            keys: self.key_usage(),
        }
    }

    fn series(&self, key: &SeriesKey, window: Window) -> Vec<SeriesPoint> {
        self.series_at(key, window, SeriesResolution::Auto)
    }

    fn series_at(&self, key: &SeriesKey, window: Window, resolution: SeriesResolution) -> Vec<SeriesPoint> {
        let now = self.clock.now();
        let (start, end, fine) = self.window_bounds(window, now);
        let fine = fine && resolution == SeriesResolution::Auto;
        let g = &self.geometry;
        let width = if fine { g.fine_us } else { g.coarse_us };
        let first = start / width;
        let last = (end - 1).min(now.as_unix_micros()) / width;
        let mut points: Vec<series::PointAcc> = (first..=last)
            .map(|e| series::PointAcc { start_us: e * width, acc: Acc::EMPTY, hist: (!fine).then(Dense::new) })
            .collect();
        let mut add = |series: &Series| series.points_into(start, end, fine, g, &mut points);
        match key {
            SeriesKey::Requests => self.each_endpoint(|_, _, s| add(s)),
            SeriesKey::Queries => self.each_query(Origin::Request, |_, q| add(&q.series)),
            SeriesKey::Endpoint { method, route } => {
                let found = match route.as_str() {
                    UNMATCHED_ROUTE => Some(self.unmatched.clone()),
                    OVERFLOW_ROUTE => Some(self.endpoint_overflow.clone()),
                    r => self.endpoints.load().get(r).and_then(|slots| slots[method.index()].clone()),
                };
                if let Some(s) = found {
                    add(&s);
                }
            }
            SeriesKey::Query { fingerprint } => {
                // A fingerprint run both inside and outside requests has
                // two series; its series over time is their sum.
                for origin in [Origin::Request, Origin::Background] {
                    let found = self.queries[origin as usize].load().get(fingerprint.as_str()).cloned();
                    if let Some(q) = found {
                        add(&q.series);
                    } else if fingerprint == OVERFLOW_FINGERPRINT {
                        add(&self.query_overflow[origin as usize].series);
                    }
                }
            }
        }
        points
            .into_iter()
            .map(|p| {
                let (p50, p95, p99) = match &p.hist {
                    Some(h) if p.acc.count > 0 => {
                        let [a, b, c] = h.percentiles([0.5, 0.95, 0.99], p.acc.min_ns, p.acc.max_ns);
                        (a / 1e9, b / 1e9, c / 1e9)
                    }
                    _ => (0.0, 0.0, 0.0),
                };
                SeriesPoint {
                    start: Timestamp::from_unix_micros(p.start_us).to_datetime(),
                    width: width as f64 / 1e6,
                    count: u64::from(p.acc.count),
                    errors: u64::from(p.acc.errors),
                    slow: u64::from(p.acc.slow),
                    avg: if p.acc.count == 0 { 0.0 } else { p.acc.sum_ns as f64 / 1e9 / f64::from(p.acc.count) },
                    p50,
                    p95,
                    p99,
                    max: if p.acc.count == 0 { 0.0 } else { p.acc.max_ns as f64 / 1e9 },
                    has_percentiles: p.hist.is_some() && p.acc.count > 0,
                }
            })
            .collect()
    }

    fn gauges(&self, window: Window) -> Vec<GaugePoint> {
        let now = self.clock.now();
        let (start, end, fine) = self.window_bounds(window, now);
        let width = if fine { self.geometry.fine_us } else { self.geometry.coarse_us };
        let g = self.gauges.lock();
        let slots = if fine { &g.fine } else { &g.coarse };
        let first = start / width;
        let last = (end - 1).min(now.as_unix_micros()) / width;
        (first..=last)
            .map(|epoch| {
                let slot = slots[(epoch % slots.len() as u64) as usize];
                let live = slot.is_live() && slot.epoch == epoch;
                let samples = if live { slot.samples } else { 0 };
                let mean = |sum: f64| if samples == 0 { 0.0 } else { sum / samples as f64 };
                GaugePoint {
                    start: Timestamp::from_unix_micros(epoch * width).to_datetime(),
                    width: width as f64 / 1e6,
                    samples,
                    rss_mb: mean(if live { slot.rss_sum } else { 0.0 }),
                    cpu_percent: mean(if live { slot.cpu_sum } else { 0.0 }),
                    cache_hits: if live { slot.cache.hits() } else { 0 },
                    cache_misses: if live { slot.cache.misses() } else { 0 },
                }
            })
            .collect()
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn totals(&self) -> TotalsSnapshot {
        let g = &self.geometry;
        let mut out = TotalsSnapshot {
            bucket_bounds: g.le_nanos[..g.le_n].iter().map(|&n| n as f64 / 1e9).collect(),
            ..TotalsSnapshot::default()
        };
        self.each_endpoint(|method, route, series| {
            let t = series.totals(g);
            if t.count > 0 {
                out.endpoints.push(EndpointTotals {
                    method,
                    route: route.to_owned(),
                    totals: totals(&t, g),
                    statuses: series.statuses().map(|s| s.totals(g)).unwrap_or_default(),
                });
            }
        });
        for origin in [Origin::Request, Origin::Background] {
            self.each_query(origin, |fp, q| {
                let t = q.series.totals(g);
                if t.count > 0 {
                    out.queries.push(QueryTotals {
                        fingerprint: fp.to_owned(),
                        background: origin == Origin::Background,
                        totals: totals(&t, g),
                    });
                }
            });
        }
        out.endpoints.sort_by(|a, b| (a.route.as_str(), a.method).cmp(&(b.route.as_str(), b.method)));
        out.queries.sort_by(|a, b| (a.background, a.fingerprint.as_str()).cmp(&(b.background, b.fingerprint.as_str())));
        out.cache = self.gauges.lock().cache_totals;
        out.n_plus_one = self.n_plus_one.lock().scope_totals();
        out
    }
}

fn totals(c: &series::Cumulative, g: &Geometry) -> Totals {
    let mut running = 0;
    let buckets = c.buckets[..g.le_n]
        .iter()
        .map(|n| {
            running += n;
            running
        })
        .collect();
    Totals {
        count: c.count,
        errors: c.errors,
        client_errors: c.client_errors,
        slow: c.slow,
        sum: c.sum_ns as f64 / 1e9,
        buckets,
    }
}

fn aggregate(c: &Collected) -> Aggregate {
    let a = &c.acc;
    if a.count == 0 {
        return Aggregate { histogram_coverage: 1.0, ..Aggregate::default() };
    }
    let [p50, p90, p95, p99] = c.hist.percentiles([0.5, 0.9, 0.95, 0.99], a.min_ns, a.max_ns);
    let held = c.hist.total();
    let count = u64::from(a.count);
    Aggregate {
        count,
        errors: u64::from(a.errors),
        client_errors: u64::from(a.client_errors),
        slow: u64::from(a.slow),
        total_time: a.sum_ns as f64 / 1e9,
        avg: a.sum_ns as f64 / 1e9 / count as f64,
        min: a.min_ns as f64 / 1e9,
        max: a.max_ns as f64 / 1e9,
        p50: p50 / 1e9,
        p90: p90 / 1e9,
        p95: p95 / 1e9,
        p99: p99 / 1e9,
        histogram_coverage: (held as f64 / count as f64).min(1.0),
    }
}
