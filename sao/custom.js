/* This file is part of the EV operations suite.
 *
 * Loaded by sao's index.html after tryton-sao.js (`./ev` copies it into the
 * unpacked package).
 *
 * A fix of sao 8.0's selection widget: each redisplay of a form rebuilds
 * the options of every <select> and puts the record's value back only in a
 * jQuery promise callback, i.e. in a later task. Until then the select
 * shows its first option. A redisplay follows each edit (the "change" of
 * the edited field), and a tap on a phone delivers blur, change and click in
 * one task: the button then reads every widget back into the record
 * (Screen.button -> Form.set_value) while the selects show their first
 * option, and the save sends them. A field crew typing the day-call note
 * and tapping "Day Call Done" turned the survey into an installation (whose
 * team domain then failed); any selection of the form (the survey report's
 * earthing, mounting...) was overwritten the same way. With a mouse the
 * click comes in a later task, after the value was put back.
 *
 * The fix puts the record's value back in the same task as the rebuild.
 */
(function() {
    'use strict';
    if (!window.Sao || !Sao.View || !Sao.View.Form || !Sao.View.Form.Selection) {
        return;
    }
    var Selection = Sao.View.Form.Selection;
    var set_selection = Selection.prototype.set_selection;
    Selection.prototype.set_selection = function(selection, help) {
        set_selection.call(this, selection, help);
        var record = this.record, field = this.field;
        if (!record || !field) {
            return;
        }
        var value = JSON.stringify(field.get(record));
        var shown = this.select.find('option').filter(function() {
            return this.value === value;
        });
        if (shown.length) {
            this.select.val(value);
        }
    };
}());

/*
 * A fix of sao 8.0's calendar: the week and day views should open at the
 * `calendar_scroll_time` of the action's context (our Team Calendar: 8:00,
 * before the teams' working hours). FullCalendar computes that scroll when
 * it first renders, before sao gives it its height, so it computes 0; and
 * each later redisplay (sao sets the height again, then refetches the
 * events) puts back the scroll it captured before, i.e. midnight. At each
 * display of a visible week or day view, apply FullCalendar's initial scroll
 * now and once more when the events of this display are rendered, as
 * FullCalendar does itself when the user goes to another week.
 */
(function() {
    'use strict';
    if (!window.Sao || !Sao.View || !Sao.View.Calendar) {
        return;
    }
    var Calendar = Sao.View.Calendar;
    var display = Calendar.prototype.display;
    Calendar.prototype.display = function() {
        var result = display.apply(this, arguments);
        var scroller = this.el.find('.fc-time-grid-container.fc-scroller');
        var view = this.el.fullCalendar('getView');
        if (view && view.addScroll && scroller.length &&
                scroller[0].clientHeight) {
            view.addScroll({isDateInit: true});
            view.popScroll();
            view.addScroll({isDateInit: true});
        }
        return result;
    };
}());

/*
 * Live dashboards (ev_oem_report: dashboard.py, dashboard_refresh.py).
 *
 * The dashboards' figures are computed at each read; sao 8 reloads a view
 * only when the user asks (its bus dispatches only the client:, chat: and
 * notification: channels). Here a tab that shows a dashboard model (a name
 * starting with "ev.oem.dashboard.": a board's actions or a tab of its own)
 * reloads when the data behind it changes:
 *
 * - with Tryton's bus (PostgreSQL and `[bus] allow_subscribe = True`, as
 *   `./ev run` sets up on PostgreSQL): while such a tab is open, sao listens
 *   to the channel "ev.dashboard", on which the server publishes, once per
 *   committed transaction, the names of the dashboard models whose data
 *   changed (only names: any user may listen). The tabs showing one of
 *   them reload;
 * - without a bus (SQLite, or while the bus is down: Sao.Bus.listening is
 *   false): the dashboard tabs reload every Sao.config.ev_dashboard_poll ms
 *   (a minute).
 *
 * A tab reloads only the dashboards named (a board: the actions
 * concerned), at most once per Sao.config.ev_dashboard_throttle ms (the
 * changes within that time make one reload at its end), only while it is
 * the tab shown and the browser's page is visible (a hidden tab reloads
 * when it is shown again), and never while the user types in it (a search
 * or the dashboard's dates: a key pressed there less than two throttle
 * periods ago, the focus still there) or has changed a record of it: then
 * it waits.
 */
(function() {
    'use strict';
    if (!window.Sao || !Sao.Bus || !Sao.Tab || !Sao.Tab.Form ||
            !Sao.Tab.Board) {
        return;
    }
    var CHANNEL = 'ev.dashboard';
    var PREFIX = 'ev.oem.dashboard.';
    Sao.config.ev_dashboard_throttle = 5 * 1000;
    Sao.config.ev_dashboard_poll = 60 * 1000;

    // The open tabs showing dashboards, with their reload state
    var tracked = new Map();

    // The screens of the tab showing a dashboard model, with how to reload
    // each
    var dashboards = function(tab) {
        var result = [];
        var is_dashboard = function(screen) {
            return screen && screen.model_name &&
                screen.model_name.startsWith(PREFIX);
        };
        if (tab instanceof Sao.Tab.Board) {
            for (const action of (tab.board ? tab.board.actions : [])) {
                if (is_dashboard(action.screen)) {
                    result.push({
                        screen: action.screen,
                        reload: () => action.display(),
                    });
                }
            }
        } else if (tab instanceof Sao.Tab.Form && is_dashboard(tab.screen)) {
            result.push({
                screen: tab.screen,
                reload: () => {
                    // A record's form is the user's, not the dashboard
                    if (tab.screen.current_view &&
                            tab.screen.current_view.view_type != 'form') {
                        return tab.reload(false);
                    }
                },
            });
        }
        return result;
    };

    var shown = function(tab) {
        return (document.visibilityState == 'visible') &&
            (Sao.Tab.tabs.get_current() === tab);
    };

    // The user is typing in the tab (sao itself puts the focus in the
    // search entry after each search: a focus alone is not an edit), or
    // has changed a record of it
    var editing = function(tab, state) {
        var focus = document.activeElement;
        if (focus && tab.el && tab.el[0].contains(focus) &&
                (jQuery(focus).is('input, textarea, select') ||
                    focus.isContentEditable) &&
                (Date.now() - state.typed <
                    2 * Sao.config.ev_dashboard_throttle)) {
            return true;
        }
        return dashboards(tab).some(d => d.screen.modified());
    };

    var reload = function(tab) {
        var state = tracked.get(tab);
        if (!state) {
            return;
        }
        state.timer = null;
        if (!shown(tab)) {
            state.stale = true;
            return;
        }
        if (editing(tab, state)) {
            state.timer = window.setTimeout(
                reload, Sao.config.ev_dashboard_throttle, tab);
            return;
        }
        state.stale = false;
        state.last = Date.now();
        for (const dashboard of dashboards(tab)) {
            if (state.changed.has(dashboard.screen.model_name)) {
                dashboard.reload();
            }
        }
        state.changed.clear();
    };

    // Reload the dashboards of `models` the tab shows (null: all of them)
    var changed = function(tab, models) {
        var state = tracked.get(tab);
        if (!state) {
            return;
        }
        for (const dashboard of dashboards(tab)) {
            let model = dashboard.screen.model_name;
            if (!models || models.includes(model)) {
                state.changed.add(model);
            }
        }
        if (!state.changed.size || state.timer) {
            return;
        }
        if (!shown(tab)) {
            state.stale = true;
            return;
        }
        var wait = Math.max(0,
            state.last + Sao.config.ev_dashboard_throttle - Date.now());
        state.timer = window.setTimeout(reload, wait, tab);
    };

    var on_message = function(message) {
        if (message.type != CHANNEL || !Array.isArray(message.models)) {
            return;
        }
        for (const tab of tracked.keys()) {
            changed(tab, message.models);
        }
    };

    // Checked every second, so that a new period applies at once
    var polled = Date.now();
    window.setInterval(function() {
        if (Sao.Bus.listening ||
                (Date.now() - polled < Sao.config.ev_dashboard_poll)) {
            return;
        }
        polled = Date.now();
        for (const tab of tracked.keys()) {
            changed(tab, null);
        }
    }, 1000);

    var track = function(tab) {
        if (tracked.has(tab) || !~Sao.Tab.tabs.indexOf(tab) ||
                !dashboards(tab).length) {
            return;
        }
        if (!tracked.size) {
            Sao.Bus.register(CHANNEL, on_message);
        }
        var state = {
            last: Date.now(),  // the last reload
            timer: null,  // the next reload
            changed: new Set(),  // the models to reload
            stale: false,  // models changed while hidden
            typed: 0,  // the last key pressed in the tab
        };
        tracked.set(tab, state);
        tab.el.on('input keydown change', () => {
            state.typed = Date.now();
        });
    };

    var untrack = function(tab) {
        var state = tracked.get(tab);
        if (!state) {
            return;
        }
        window.clearTimeout(state.timer);
        tracked.delete(tab);
        if (!tracked.size) {
            Sao.Bus.unregister(CHANNEL, on_message);
        }
    };

    var Board = Sao.Tab.Board.prototype;
    var board_init = Board.init;
    Board.init = function() {
        board_init.apply(this, arguments);
        this.view_prm.done(() => {
            this.board.actions_prms.done(() => track(this));
        });
    };
    var Form = Sao.Tab.Form.prototype;
    var form_init = Form.init;
    Form.init = function() {
        form_init.apply(this, arguments);
        this.view_prm.done(() => track(this));
    };
    var Tab = Sao.Tab.prototype;
    var close = Tab.close;
    Tab.close = function() {
        return close.apply(this, arguments).then(result => {
            if (!~Sao.Tab.tabs.indexOf(this)) {
                untrack(this);
            }
            return result;
        });
    };

    // A dashboard that changed while hidden reloads when shown again
    var show_stale = function() {
        var tab = Sao.Tab.tabs.get_current();
        var state = tracked.get(tab);
        if (state && state.stale) {
            changed(tab, []);
        }
    };
    jQuery(document).on('shown.bs.tab', '#tablist a', show_stale);
    document.addEventListener('visibilitychange', show_stale);
}());
