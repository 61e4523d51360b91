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
