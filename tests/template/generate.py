#!/usr/bin/python3
"""Generate the template conformance corpus by asking Jinja2 itself.

Run with Debian's interpreter (python3-jinja2 3.1.x):

    /usr/bin/python3 tests/template/generate.py

Every case below (a template, a JSON context and optionally extra template
files for {% include %}) is rendered by Jinja2 twice: with StrictUndefined
(fabc's default, undefined="strict") and with the default Undefined
(undefined="lenient"). The result -- the exact output, or the exception
class and message where Jinja2 raised -- is written to
tests/template/corpus.json, which tests/integration/test_template.py
replays through fabc. Cases whose Jinja2 output shows an object address
(generators, iterators) are dropped: fabc returns lists there.
"""
import copy
import json
import os
import sys

import jinja2

HERE = os.path.dirname(os.path.abspath(__file__))

HOSTS = [
    {"name": "web1", "ip": "10.0.0.1", "port": 8080, "backup": False,
     "weight": 10, "tags": ["a", "b"]},
    {"name": "web2", "ip": "10.0.0.2", "port": 8081, "backup": True,
     "weight": 5, "tags": []},
    {"name": "Db1", "ip": "10.0.1.1", "port": 5432, "backup": False,
     "weight": 7, "tags": ["db"]},
]

CTX = {
    "name": "World", "n": 7, "f": 2.5, "neg": -3, "zero": 0, "t": True,
    "no": False, "none": None, "s": "Hello World", "empty": "",
    "xs": [3, 1, 2], "words": ["b", "A", "c", "a"], "el": [],
    "d": {"b": 2, "a": 1, "C": 3}, "hosts": HOSTS, "nested": {"a": {"b":
    {"c": "deep"}}}, "pairs": [[1, "one"], [2, "two"]], "html": "<a href='x'>&\"",
    "ml": "line1\nline2\n\nline4", "num_s": "42", "float_s": "3.75",
    "big": 12345678901234567890, "mixed": ["x", 1, None, True],
    "users": [{"name": "ann", "age": 30, "admin": True},
              {"name": "bob", "age": 25, "admin": False},
              {"name": "cid", "age": 35, "admin": True}],
}

# (template, context or None for CTX, files or None)
CASES = []


def add(tpl, ctx=None, files=None):
    CASES.append((tpl, CTX if ctx is None else ctx, files))


# --- plain output and literals --------------------------------------------
for t in [
    "", "plain text", "a\n", "a\n\n", "a\r\nb\rc\n", "{{ name }}",
    "Hello {{ name }}!", "{{ n }}", "{{ f }}", "{{ neg }}", "{{ t }}",
    "{{ no }}", "{{ none }}", "{{ xs }}", "{{ d }}", "{{ mixed }}",
    "{{ big }}", "{{ 1 }}", "{{ 1.5 }}", "{{ 1e3 }}", "{{ 1_000 }}",
    "{{ 0x1f }}", "{{ 0o17 }}", "{{ 0b101 }}", "{{ 'str' }}",
    '{{ "dq" }}', "{{ 'a' 'b' }}", "{{ 'it\\'s' }}", "{{ 'tab\\tx' }}",
    "{{ 'nl\\nx' }}", "{{ '\\u00e9\\x41' }}", "{{ 'back\\\\slash' }}",
    "{{ 'unknown\\q' }}", "{{ true }}", "{{ True }}", "{{ false }}",
    "{{ none }}{{ None }}", "{{ [1, 2, 3] }}", "{{ [] }}", "{{ (1, 2) }}",
    "{{ (1,) }}", "{{ () }}", "{{ {'a': 1} }}", "{{ {} }}",
    "{{ {'a': {'b': [1, {'c': 2}]}} }}", "{{ 1, 2 }}", "{{ [1, [2, 3]] }}",
    "{{ 'é' }} ünïcödé ✓", "{{ 0.1 + 0.2 }}", "{{ 10 / 4 }}", "{{ 1/3 }}",
    "{{ 2 ** 100 }}",
]:
    add(t)

# --- arithmetic and operators -----------------------------------------------
for t in [
    "{{ 1 + 2 }}", "{{ 5 - 7 }}", "{{ 3 * 4 }}", "{{ 7 / 2 }}", "{{ 7 // 2 }}",
    "{{ -7 // 2 }}", "{{ 7 % 3 }}", "{{ -7 % 3 }}", "{{ 2 ** 10 }}",
    "{{ 2 ** 3 ** 2 }}", "{{ -2 ** 2 }}", "{{ 1 + 2 * 3 }}", "{{ (1 + 2) * 3 }}",
    "{{ n * f }}", "{{ n / 0 }}", "{{ n // 0 }}", "{{ 'ab' * 3 }}",
    "{{ 'a' + 'b' }}", "{{ 'a' + 1 }}", "{{ xs + [4] }}", "{{ 1 ~ 2 }}",
    "{{ name ~ '!' ~ n }}", "{{ none ~ t }}", "{{ -n }}", "{{ +n }}",
    "{{ - -n }}", "{{ 'x %s y' % name }}", "{{ '%d-%d' % (1, 2) }}",
    "{{ f * 2 }}", "{{ 1 - - 1 }}", "{{ n + f }}", "{{ 3 - 1 - 1 }}",
    "{{ 2 * 3 ~ 4 }}", "{{ 1 + 2 ~ 3 }}", "{{ 100 / 7 * 7 }}",
]:
    add(t)

# --- comparisons and logic ----------------------------------------------------
for t in [
    "{{ 1 < 2 }}", "{{ 2 < 1 }}", "{{ 1 <= 1 }}", "{{ 1 == 1.0 }}",
    "{{ 'a' != 'b' }}", "{{ 1 < 2 < 3 }}", "{{ 1 < 3 < 2 }}",
    "{{ 3 > 2 >= 2 }}", "{{ 1 in xs }}", "{{ 9 in xs }}", "{{ 9 not in xs }}",
    "{{ 'W' in name }}", "{{ 'a' in d }}", "{{ not t }}", "{{ not not t }}",
    "{{ t and n }}", "{{ no and n }}", "{{ no or 'x' }}", "{{ t or 'x' }}",
    "{{ zero or empty or 'z' }}", "{{ t and no or 'y' }}",
    "{{ not 1 == 2 }}", "{{ 'yes' if t else 'no' }}",
    "{{ 'yes' if no else 'no' }}", "{{ 'a' if no else 'b' if t else 'c' }}",
    "{{ 'only' if t }}", "[{{ 'only' if no }}]", "{{ 1 if 2 > 1 else 0 }}",
    "{{ [1,2] == [1,2] }}", "{{ 'a' < 'b' }}", "{{ 1 < 'a' }}",
    "{{ none == none }}", "{{ xs[0] > xs[1] }}",
]:
    add(t)

# --- attribute and item access ----------------------------------------------
for t in [
    "{{ d.a }}", "{{ d['b'] }}", "{{ xs[0] }}", "{{ xs[-1] }}", "{{ xs.1 }}",
    "{{ nested.a.b.c }}", "{{ nested['a']['b'].c }}", "{{ hosts[0].name }}",
    "{{ hosts[1]['ip'] }}", "{{ pairs[0][1] }}", "{{ s[0] }}", "{{ s[1:5] }}",
    "{{ s[::-1] }}", "{{ xs[1:] }}", "{{ xs[:2] }}", "{{ xs[::2] }}",
    "{{ d.missing }}", "{{ d.missing.x }}", "{{ xs[10] }}", "{{ nope.x }}",
    "{{ nope['x'] }}", "{{ d.items() | list }}", "{{ d.keys() | list }}",
    "{{ d.values() | list }}", "{{ d.get('a') }}", "{{ d.get('zz', 'dflt') }}",
    "{{ s.upper() }}", "{{ s.split(' ') }}", "{{ s.replace('l', 'L') }}",
    "{{ name.startswith('W') }}", "{{ '-'.join(['a', 'b']) }}",
    "{{ xs.index(2) }}", "{{ d['a'] + d.b }}", "{{ s.lower().title() }}",
    "{{ none.x }}", "{{ n.real }}", "{{ d.items }}"[:0] + "{{ d['items'] }}",
]:
    add(t)

# --- if ----------------------------------------------------------------------
for t in [
    "{% if t %}yes{% endif %}", "{% if no %}yes{% endif %}",
    "{% if no %}a{% else %}b{% endif %}",
    "{% if n > 10 %}big{% elif n > 5 %}mid{% else %}small{% endif %}",
    "{% if n > 10 %}big{% elif n > 8 %}mid{% endif %}",
    "{% if xs %}has{% endif %}", "{% if el %}has{% else %}none{% endif %}",
    "{% if d.a == 1 and d.b == 2 %}ok{% endif %}",
    "{% if missing %}x{% endif %}",
    "{% if missing is defined %}x{% else %}undef{% endif %}",
    "{% if missing is defined and missing %}x{% else %}safe{% endif %}",
    "{% if t %}\n  line\n{% endif %}\n",
    "{% if t %}{% if n == 7 %}seven{% endif %}{% endif %}",
    "{% if 'W' in name %}in{% endif %}",
    "{% if not el %}empty{% endif %}",
    "{% if none is none %}isnone{% endif %}",
]:
    add(t)

# --- for -----------------------------------------------------------------------
for t in [
    "{% for x in xs %}{{ x }}{% endfor %}",
    "{% for x in xs %}{{ x }},{% endfor %}",
    "{% for x in el %}{{ x }}{% else %}empty{% endfor %}",
    "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
    "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|"
    "{% endfor %}",
    "{% for k in d %}{{ k }}={{ d[k] }};{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for k, v in d|dictsort %}{{ k }}={{ v }};{% endfor %}",
    "{% for a, b in pairs %}{{ a }}-{{ b }} {% endfor %}",
    "{% for (a, b) in pairs %}{{ b }}{% endfor %}",
    "{% for c in 'abc' %}{{ c }}.{% endfor %}",
    "{% for i in range(3) %}{{ i }}{% endfor %}",
    "{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}",
    "{% for h in hosts %}{{ h.name }}:{{ h.port }}{% if not loop.last %}, "
    "{% endif %}{% endfor %}",
    "{% for h in hosts if h.backup %}{{ h.name }}{% endfor %}",
    "{% for h in hosts if not h.backup %}{{ loop.index }}{{ h.name }}"
    "{{ loop.length }}{% endfor %}",
    "{% for x in xs %}{% for y in xs %}{{ x * y }} {% endfor %}|{% endfor %}",
    "{% for x in xs %}{{ loop.depth }}{% for y in [1] %}{{ loop.depth }}"
    "{{ loop.depth0 }}{% endfor %}{% endfor %}",
    "{% for x in xs %}{{ loop.cycle('odd', 'even') }} {% endfor %}",
    "{% for x in xs %}{{ loop.previtem is defined }}{{ loop.nextitem is "
    "defined }} {% endfor %}",
    "{% for x in xs %}{% if loop.first %}[{% endif %}{{ x }}"
    "{% if loop.last %}]{% endif %}{% endfor %}",
    "{% for x in missing %}{{ x }}{% endfor %}",
    "{% for x in missing %}{{ x }}{% else %}nothing{% endfor %}",
    "{% for x in n %}{% endfor %}",
    "{% for a, b in xs %}{% endfor %}",
    "{% for x in xs %}{% set y = x * 2 %}{{ y }}{% endfor %}{{ y }}",
    "{% set y = 1 %}{% for x in xs %}{% set y = x %}{% endfor %}{{ y }}",
    "{% for x in xs %}{{ x }}{% endfor %}{{ x }}",
    "{% for u in users %}{{ u.name }}{{ '!' if u.admin }} {% endfor %}",
    "{% for x in [] %}a{% else %}{{ loop is defined }}{% endfor %}",
    "{% for line in ml.splitlines() %}<{{ line }}>{% endfor %}",
    "{% for x in xs|sort %}{{ x }}{% endfor %}",
    "{% for x in xs %}{{ loop.index }}/{{ loop.length }} {% endfor %}",
]:
    add(t)

# --- set, with, namespace ----------------------------------------------------
for t in [
    "{% set a = 5 %}{{ a }}", "{% set a, b = 1, 2 %}{{ a }}{{ b }}",
    "{% set a = [1, 2] %}{{ a|length }}", "{% set a = name ~ '!' %}{{ a }}",
    "{% set x %}captured {{ n }}{% endset %}[{{ x }}]",
    "{% set x | upper %}shout {{ name }}{% endset %}{{ x }}",
    "{% set x | trim | upper %}  pad  {% endset %}[{{ x }}]",
    "{% set ns = namespace(total=0) %}{% for x in xs %}"
    "{% set ns.total = ns.total + x %}{% endfor %}{{ ns.total }}",
    "{% set ns = namespace(found=false) %}{% for h in hosts %}"
    "{% if h.backup %}{% set ns.found = true %}{% endif %}{% endfor %}"
    "{{ ns.found }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}",
    "{% with a = n %}{{ a }}{% endwith %}{{ a is defined }}",
    "{% if t %}{% set inner = 1 %}{% endif %}{{ inner }}",
    "{% set n = 100 %}{{ n }}",
    "{% set d2 = {'k': 'v'} %}{{ d2.k }}",
]:
    add(t)

# --- whitespace control, comments, raw ---------------------------------------
for t in [
    "a  {{- name -}}  b", "a {{- name }} b", "a {{ name -}} b",
    "a\n  {%- if t %}\nx\n  {%- endif %}\nb",
    "a\n{% if t -%}\n   x\n{%- endif %}\nb",
    "{% for x in xs -%}\n  {{ x }}\n{%- endfor %}",
    "{% for x in xs %}\n  {{ x }}\n{% endfor %}",
    "a {# comment #} b", "a {#- comment -#} b", "{# multi\nline #}x",
    "{% raw %}{{ not rendered }}{% endraw %}",
    "{% raw -%}  {{ x }}  {%- endraw %}", "a {%- raw %} b {% endraw -%} c",
    "{%+ if t %}x{% endif %}", "line1\n{{ n }}\nline3\n",
    "  {% if t %}  x  {% endif %}  ", "{{ name }}\n\n",
    "a\n{% set q = 1 %}\nb", "{%- if t -%}   x   {%- endif -%}",
    "x {{- '  ' -}} y", "{{ '{{' }} {{ '}}' }}", "{ not a tag }",
    "{{ {'a': {'b': 1}} }}", "{% if t %}{{ {'k': 1}['k'] }}{% endif %}",
]:
    add(t)

# --- filters ---------------------------------------------------------------------
for t in [
    "{{ name|upper }}", "{{ name|lower }}", "{{ 'hello world'|title }}",
    "{{ 'hello-world (x) [y] <z>'|title }}", "{{ 'mIxEd CASE'|title }}",
    "{{ 'hELLO'|capitalize }}", "{{ '  pad  '|trim }}", "{{ 'xxpadxx'|trim('x') }}",
    "{{ s|replace('o', '0') }}", "{{ s|replace('o', '0', 1) }}",
    "{{ xs|join }}", "{{ xs|join(', ') }}", "{{ hosts|join(', ', attribute='name') }}",
    "{{ xs|length }}", "{{ s|length }}", "{{ d|count }}", "{{ xs|first }}",
    "{{ xs|last }}", "{{ s|first }}", "{{ el|first }}", "{{ el|last }}",
    "{{ xs|sort }}", "{{ xs|sort(reverse=true) }}", "{{ words|sort }}",
    "{{ words|sort(case_sensitive=true) }}",
    "{{ hosts|sort(attribute='port')|map(attribute='name')|join(',') }}",
    "{{ hosts|sort(attribute='name')|map(attribute='name')|join(',') }}",
    "{{ users|sort(attribute='age', reverse=true)|map(attribute='name')|list }}",
    "{{ [3, 1, 3, 2, 1]|unique|list }}", "{{ words|unique|list }}",
    "{{ words|unique(case_sensitive=true)|list }}",
    "{{ xs|reverse|list }}", "{{ s|reverse }}", "{{ 'abc'|list }}",
    "{{ d|list }}", "{{ '42'|int + 1 }}", "{{ '4.7'|int }}", "{{ 'x'|int }}",
    "{{ 'x'|int(5) }}", "{{ '0x1A'|int(0, 16) }}", "{{ 'ff'|int(base=16) }}",
    "{{ f|int }}", "{{ '3.5'|float }}", "{{ 'x'|float }}", "{{ n|float }}",
    "{{ n|string }}", "{{ n|string|length }}", "{{ neg|abs }}", "{{ -2.5|abs }}",
    "{{ 2.5|round }}", "{{ 3.5|round }}", "{{ 2.567|round(2) }}",
    "{{ 2.1|round(0, 'ceil') }}", "{{ 2.9|round(method='floor') }}",
    "{{ 7|round }}", "{{ 1.23456|round(3, 'floor') }}",
    "{{ ml|indent }}", "{{ ml|indent(2) }}", "{{ ml|indent(2, true) }}",
    "{{ ml|indent(2, blank=true) }}", "{{ ml|indent('> ', first=true) }}",
    "{{ 'single'|indent(3, true) }}", "{{ name|center(11) }}|",
    "{{ name|center }}|", "{{ s|wordcount }}", "{{ 'a-b c_d, e'|wordcount }}",
    "{{ 'foo bar baz qux'|truncate(9) }}", "{{ 'foo bar baz qux'|truncate(9, true) }}",
    "{{ 'foo bar baz qux'|truncate(11, false, '..', 0) }}",
    "{{ 'short'|truncate(10) }}", "{{ 'a'*300|truncate|length }}",
    "{{ d|tojson }}", "{{ xs|tojson }}", "{{ html|tojson }}",
    "{{ {'b': [1, none, true], 'a': 'x'}|tojson(2) }}", "{{ name|tojson }}",
    "{{ d|items|list }}", "{{ d|dictsort }}", "{{ d|dictsort(true) }}",
    "{{ d|dictsort(by='value') }}", "{{ d|dictsort(reverse=true) }}",
    "{{ hosts|map(attribute='ip')|list }}", "{{ words|map('upper')|list }}",
    "{{ xs|map('string')|join('-') }}",
    "{{ users|map(attribute='nick', default='?')|list }}",
    "{{ xs|select('odd')|list }}", "{{ xs|reject('odd')|list }}",
    "{{ [0, 1, '', 'a', none]|select|list }}",
    "{{ xs|select('gt', 1)|list }}", "{{ xs|select('divisibleby', 3)|list }}",
    "{{ users|selectattr('admin')|map(attribute='name')|list }}",
    "{{ users|rejectattr('admin')|map(attribute='name')|list }}",
    "{{ users|selectattr('age', 'gt', 28)|map(attribute='name')|join }}",
    "{{ users|selectattr('name', 'equalto', 'bob')|list|length }}",
    "{{ hosts|selectattr('tags')|map(attribute='name')|list }}",
    "{{ range(7)|batch(3)|list }}", "{{ range(7)|batch(3, 'x')|list }}",
    "{{ range(7)|slice(3)|list }}", "{{ range(7)|slice(3, 0)|list }}",
    "{{ xs|min }}", "{{ xs|max }}", "{{ words|min }}", "{{ words|max }}",
    "{{ words|max(case_sensitive=true) }}", "{{ el|min }}",
    "{{ users|min(attribute='age') }}", "{{ hosts|max(attribute='weight')|attr('get') is defined }}",
    "{{ xs|sum }}", "{{ users|sum(attribute='age') }}", "{{ xs|sum(start=10) }}",
    "{{ '%s=%s'|format('a', 1) }}", "{{ '%(a)s!'|format(a='b') }}",
    "{{ '%05.1f'|format(f) }}", "{{ html|e }}", "{{ html|escape }}",
    "{{ html|e|e }}", "{{ '<b>'|safe }}", "{{ 'a b&c/d'|urlencode }}",
    "{{ {'a': 'x y', 'b': '&'}|urlencode }}", "{{ [('k', 'v 1'), ('z', 2)]|urlencode }}",
    "{{ 'é'|urlencode }}", "{{ missing|default('dflt') }}",
    "{{ missing|d('short') }}", "{{ empty|default('dflt') }}",
    "{{ empty|default('dflt', true) }}", "{{ none|default('dflt') }}",
    "{{ d.nokey|default('fallback') }}", "{{ missing|default }}",
    "{{ name|default('x')|upper }}", "{{ s|lower|replace(' ', '_')|upper }}",
    "{{ xs|map('int')|sum }}", "{{ hosts|length > 2 }}",
    "{{ 'a,b,,c'.split(',')|select|join('+') }}",
    "{{ 'abc'|center(9)|replace(' ', '.') }}",
    "{{ n|nofilter }}", "{{ xs|join(attribute='x') }}", "{{ xs|batch }}",
    "{{ d|items|map('first')|list }}", "{{ (1, 2)|list }}",
    "{{ users|map(attribute='name')|map('capitalize')|join(' & ') }}",
    "{{ 'tEST'|lower|capitalize }}", "{{ f|round|int }}",
    "{{ hosts|selectattr('backup', 'false')|map(attribute='name')|list }}",
    "{{ hosts|map(attribute='tags')|map('length')|list }}",
    "{{ users|attr('0') }}", "{{ name|attr('upper') is callable }}",
]:
    add(t)

# --- filter blocks ----------------------------------------------------------------
for t in [
    "{% filter upper %}hello {{ name }}{% endfilter %}",
    "{% filter replace('a', 'b') %}banana{% endfilter %}",
    "{% filter trim|upper %}   x   {% endfilter %}",
    "{% filter indent(4) %}a\nb{% endfilter %}",
    "{% filter upper %}{% for x in words %}{{ x }}{% endfor %}{% endfilter %}",
]:
    add(t)

# --- tests -------------------------------------------------------------------------
for t in [
    "{{ n is odd }}", "{{ n is even }}", "{{ n is divisibleby 7 }}",
    "{{ n is divisibleby(3) }}", "{{ n is defined }}", "{{ missing is defined }}",
    "{{ missing is undefined }}", "{{ none is none }}", "{{ n is none }}",
    "{{ n is number }}", "{{ f is number }}", "{{ s is number }}",
    "{{ t is number }}", "{{ s is string }}", "{{ n is string }}",
    "{{ d is mapping }}", "{{ xs is mapping }}", "{{ xs is iterable }}",
    "{{ n is iterable }}", "{{ s is iterable }}", "{{ xs is sequence }}",
    "{{ d is sequence }}", "{{ n is sequence }}", "{{ n is integer }}",
    "{{ f is float }}", "{{ t is boolean }}", "{{ n is boolean }}",
    "{{ t is true }}", "{{ no is false }}", "{{ 'abc' is lower }}",
    "{{ 'ABC' is upper }}", "{{ n is eq 7 }}", "{{ n is ne 7 }}",
    "{{ n is lt 10 }}", "{{ n is gt 10 }}", "{{ n is le 7 }}", "{{ n is ge 8 }}",
    "{{ n is == 7 }}", "{{ n is greaterthan 3 }}", "{{ 2 is in xs }}",
    "{{ 'W' is in name }}", "{{ n is not odd }}", "{{ not n is odd }}",
    "{{ none is sameas none }}", "{{ xs is sameas xs }}", "{{ html|e is escaped }}",
    "{{ html is escaped }}", "{{ d.get is callable }}", "{{ n is callable }}",
    "{{ n is nosuchtest }}", "{{ t is not false }}", "{{ n is odd and n is number }}",
    "{{ 3 is divisibleby 2 }}", "{{ 1 is equalto 1 }}",
    "{{ missing is defined or 'alt' }}", "{{ zero is odd }}",
    "{{ n + 1 is even }}", "{{ xs|length is even }}",
]:
    add(t)

# --- macros and call blocks -----------------------------------------------------
for t in [
    "{% macro hi(who) %}Hi {{ who }}!{% endmacro %}{{ hi('a') }} {{ hi(name) }}",
    "{% macro p(a, b=2, c='x') %}{{ a }}{{ b }}{{ c }}{% endmacro %}"
    "{{ p(1) }} {{ p(1, 3) }} {{ p(1, c='z') }} {{ p(a=9, b=8) }}",
    "{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}",
    "{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}",
    "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}",
    "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, zz=2) }}",
    "{% macro wrap() %}<{{ caller() }}>{% endmacro %}"
    "{% call wrap() %}inner {{ name }}{% endcall %}",
    "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}"
    "{% endmacro %}{% call(x) each(xs) %}({{ x }}){% endcall %}",
    "{% macro outer() %}{{ inner() }}{% endmacro %}"
    "{% macro inner() %}in{% endmacro %}{{ outer() }}",
    "{% macro m() %}{{ name }}{% endmacro %}{{ m() }}",
    "{% macro m() %}{% set local = 1 %}{{ local }}{% endmacro %}"
    "{{ m() }}{{ local is defined }}",
    "{% macro rec(k) %}{{ k }}{% if k > 0 %}{{ rec(k - 1) }}{% endif %}"
    "{% endmacro %}{{ rec(3) }}",
    "{% macro m(x) %}{{ x }}{% endmacro %}{{ m(x=5)|upper }}{{ m('a')|upper }}",
    "{% for h in hosts %}{% macro row(x) %}{{ x.name }}{% endmacro %}"
    "{{ row(h) }}{% endfor %}",
    "{% macro m() %}{{ loop is defined }}{% endmacro %}"
    "{% for x in [1] %}{{ m() }}{% endfor %}",
    "{% macro m(a, b) %}{{ b }}{% endmacro %}{{ m(1) }}",
    "{% macro m(a, b) %}{{ b is defined }}{% endmacro %}{{ m(1) }}",
    "{% macro line(k, v) %}{{ k }} = {{ v }}\n{% endmacro %}"
    "{% for k, v in d|dictsort %}{{ line(k, v) }}{% endfor %}",
]:
    add(t)

# --- undefined behaviour ------------------------------------------------------------
for t in [
    "{{ missing }}", "[{{ missing }}]", "{{ missing.attr }}",
    "{{ missing['k'] }}", "{{ missing + 1 }}", "{{ missing ~ 'x' }}",
    "{{ missing|upper }}", "{{ missing|length }}", "{{ missing|list }}",
    "{{ missing|join(',') }}", "{{ missing == 1 }}", "{{ missing != 1 }}",
    "{{ missing or 'x' }}", "{{ missing and 'x' }}", "{{ not missing }}",
    "{{ 1 in missing }}", "{{ missing is odd }}", "{{ missing() }}",
    "{{ d.missing|upper }}", "{{ hosts[9] }}", "{{ hosts[9].name }}",
    "line1\nline2 {{ missing }}", "{{ missing|first }}", "{{ missing|default(n) }}",
    "{% if missing == 1 %}y{% else %}n{% endif %}", "{{ missing < 1 }}",
    "{{ -missing }}", "{{ missing|string }}", "{{ missing|title }}",
    "{{ missing|items|list }}", "{{ missing|sort }}", "{{ missing|sum }}",
    "{{ missing|wordcount }}", "{{ [missing]|length }}",
]:
    add(t)

# --- syntax errors ---------------------------------------------------------------------
for t in [
    "{{ }}", "{{ a b }}", "{{ name", "{% if t %}no end", "{% endif %}",
    "{% for x in %}{% endfor %}", "{% for in xs %}{% endfor %}",
    "{% nosuchtag %}", "{{ 'unterminated }}", "{{ (1, 2 }}", "{{ [1, 2 }}",
    "{{ 1 + }}", "{% if %}{% endif %}", "{% set %}", "{% set x %}no end",
    "{% macro %}{% endmacro %}", "{% for x in xs %}{% endif %}",
    "{% if t %}{% endfor %}", "{# unterminated comment", "{% raw %}no end",
    "{{ x | }}", "{{ x is }}", "{{ 1 2 }}", "{{ a.}}", "{% else %}",
    "{% elif t %}", "{% endfor %}", "{{ @ }}", "{{ {'a' 1} }}",
    "{% if t %}{% else %}{% else %}{% endif %}", "line1\nline2\n{% if %}",
    "{% for x in xs %}\n{{ x }\n{% endfor %}", "{{ x is is defined }}",
    "{% set 1 = 2 %}", "{% with %}{% endwith %}", "{{ 'a' ~ }}",
    "{% call %}{% endcall %}", "{% filter %}{% endfilter %}",
]:
    add(t)

# --- undefined values inside Python operations, quirks -----------------------
for t in [
    "{{ xs|indent }}", "{{ n|indent }}", "{{ missing|indent }}",
    "{{ missing|int }}", "{{ missing|float }}", "{{ d.x|int }}",
    "{{ [html|e] }}", "{{ [d|tojson] }}", "{{ n[1:] }}", "{{ d[1:] }}",
    "{{ {'a': 1}|sort(attribute='x') }}", "{{ ['a', 'b']|sort(attribute='x') }}",
    "{{ missing is sequence }}", "{{ missing is number }}",
    "{{ d.x is string }}", "{{ missing is iterable }}", "{{ missing is lower }}",
    "{{ [missing] }}", "{{ 1 in [missing] }}", "{{ [missing]|join }}",
    "{{ ['a', missing]|sort }}", "{{ xs is odd 1 }}", "{{ n is none 1 }}",
    "{{ d.missing|default('x')|upper }}", "{{ [d.x, 1]|length }}",
    "{{ users|map(attribute='x')|join }}", "{{ users|sum(attribute='x') }}",
    "{{ users|selectattr('x')|list }}", "{{ users|selectattr('x', 'defined')|list }}",
    "{{ users|rejectattr('x', 'defined')|map(attribute='name')|join }}",
    "{{ hosts|map(attribute='tags.0')|list }}", "{{ (missing or {}).x }}",
    "{{ missing.x|default('y') }}", "{% if missing.x is defined %}a{% endif %}",
    "{% for x in [missing] %}{{ x is defined }}{% endfor %}",
    "{{ ('a' if no).upper() }}", "{{ ('a' if no) ~ 'b' }}",
    "{{ xs|first + xs|last }}", "{{ xs|max - xs|min }}", "{{ xs|sort|first }}",
    "{{ hosts|sort(attribute='weight')|first|attr('get') is defined }}",
    "{{ hosts|selectattr('port', 'gt', 8080)|map(attribute='name')|join(',') }}",
    "{{ d.items()|sort|list }}", "{{ d|dictsort|map('last')|list }}",
    "{{ s.split()|map('lower')|join('-') }}", "{{ '%-10s|'|format(name) }}",
    "{{ '{0}-{1}'.format(n, f) }}", "{{ '%(a)s' % d }}",
]:
    add(t)

# --- groupby, pprint, loop.changed ---------------------------------------------
for t in [
    "{% for g, items in hosts|groupby('backup') %}{{ g }}: "
    "{{ items|map(attribute='name')|join(',') }}\n{% endfor %}",
    "{% for g in users|groupby('admin') %}{{ g.grouper }}={{ g.list|length }} "
    "{% endfor %}",
    "{{ users|groupby('admin') }}", "{{ words|groupby('0')|list }}",
    "{% for g, l in hosts|groupby('tags.0', default='none') %}[{{ g }}:"
    "{{ l|length }}]{% endfor %}",
    "{{ hosts|groupby('nope') }}", "{{ d|pprint }}", "{{ hosts|pprint }}",
    "{{ users|sort(attribute='admin,name')|map(attribute='name')|join }}",
    "{{ users|sort(attribute='admin,age', reverse=true)|map(attribute='name')"
    "|join }}",
    "{% for x in [1, 1, 2, 2, 1] %}{{ loop.changed(x) }},{% endfor %}",
    "{% macro m(x) %}[{{ x }}]{% endmacro %}{{ m(1) }}{{ m(m(2)) }}"
    "{{ m(3)|upper }}{{ m(4) ~ '!' }}{{ [m(5)] }}",
    "{% macro m() %}ok{{ missing }}{% endmacro %}a{{ m() }}b",
    "{% macro m() %}{{ caller() }}{{ caller() }}{% endmacro %}"
    "{% call m() %}<{{ n }}>{% endcall %}",
    "{{ -9223372036854775808 }} {{ 9223372036854775807 }} "
    "{{ 9223372036854775808 }} {{ -1 }} {{ 0 }} {{ t }} {{ big * big }}",
    "{% for h in hosts|sort(attribute='backup') %}{% if loop.changed(h.backup) %}"
    "== {{ h.backup }}\n{% endif %}{{ h.name }}\n{% endfor %}",
]:
    add(t)

# --- realistic config snippets -----------------------------------------------------
add("""upstream app {
{% for h in hosts %}
    server {{ h.ip }}:{{ h.port }} weight={{ h.weight }}{% if h.backup %} backup{% endif %};
{% endfor %}
}
""")
add("""upstream app {
{%- for h in hosts %}
    server {{ h.ip }}:{{ h.port }}{{ ' backup' if h.backup }};
{%- endfor %}
}
""")
add("""[Unit]
Description={{ name }} service
{% if d.a %}After=network.target{% endif %}

[Service]
{% for k, v in d|dictsort -%}
Environment={{ k|upper }}={{ v }}
{% endfor -%}
ExecStart=/usr/bin/{{ name|lower }} --port {{ n * 1000 }}
""")
add("""backend be
    balance roundrobin
{% for h in hosts|sort(attribute='name') %}
    server {{ "%-6s"|format(h.name) }} {{ h.ip }}:{{ h.port }} check{% if h.tags %} # {{ h.tags|join(',') }}{% endif %}

{% endfor %}""")
add("""{% set total = hosts|sum(attribute='weight') -%}
{% for h in hosts -%}
{{ loop.index }}. {{ h.name|title }} {{ (h.weight / total * 100)|round(1) }}%
{% endfor %}""")
add("""parameters:
{% for u in users %}
  {{ u.name }}:
    age: {{ u.age }}
    admin: {{ u.admin|lower }}
{% endfor %}""")
add("""{{ hosts|tojson }}""")
add("""{% macro opt(k, v) -%}
{% if v is none %}# {{ k }} unset{% elif v is sameas true %}{{ k }}=yes{% elif v is sameas false %}{{ k }}=no{% else %}{{ k }}={{ v }}{% endif %}
{%- endmacro -%}
{{ opt('a', none) }}
{{ opt('b', true) }}
{{ opt('c', false) }}
{{ opt('d', 3) }}
""")

# --- includes ---------------------------------------------------------------------
add("{% include 'part.j2' %}!", files={"part.j2": "part {{ name }}"})
add("{% for x in xs %}{% include 'item.j2' %}{% endfor %}",
    files={"item.j2": "<{{ x }}>\n"})
add("{% include 'missing.j2' %}", files={"part.j2": "x"})
add("{% include 'missing.j2' ignore missing %}ok", files={"part.j2": "x"})
add("{% include 'bad.j2' %}", files={"bad.j2": "{% if %}"})
add("{% include 'undef.j2' %}", files={"undef.j2": "a\n{{ nope }}"})
add("{% set local = 5 %}{% include 'loc.j2' %}", files={"loc.j2": "{{ local }}"})
add("{% include 'setter.j2' %}{{ inner is defined }}",
    files={"setter.j2": "{% set inner = 1 %}{{ inner }}"})
add("{% include 'nested.j2' %}", files={"nested.j2": "[{% include 'part.j2' %}]",
                                         "part.j2": "p{{ n }}"})


def render(tpl, ctx, files, strict):
    mapping = dict(files or {})
    mapping["__main__"] = tpl
    env = jinja2.Environment(
        loader=jinja2.DictLoader(mapping),
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined)
    try:
        # a copy: some filters mutate their input (indent on a list)
        out = env.get_template("__main__").render(copy.deepcopy(ctx))
        return {"output": out}
    except Exception as e:  # noqa: BLE001 -- we record whatever Jinja2 raised
        return {"error": type(e).__name__, "message": str(e)}


def main():
    cases = []
    seen = set()
    for i, (tpl, ctx, files) in enumerate(CASES):
        for mode in ("strict", "lenient"):
            key = (tpl, json.dumps(ctx, sort_keys=True),
                   json.dumps(files, sort_keys=True), mode)
            if key in seen:
                continue
            seen.add(key)
            res = render(tpl, ctx, files, mode == "strict")
            if "object at 0x" in res.get("output", ""):
                continue
            case = {"id": "%03d-%s" % (i, mode), "template": tpl,
                    "undefined": mode}
            if ctx is not CTX:
                case["context"] = ctx
            if files:
                case["files"] = files
            case.update(res)
            cases.append(case)
    out = {"jinja2_version": jinja2.__version__, "context": CTX,
           "cases": cases}
    path = os.path.join(HERE, "corpus.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    nerr = sum(1 for c in cases if "error" in c)
    print("%s: %d cases (%d expecting an error) from %d templates"
          % (path, len(cases), nerr, len(CASES)), file=sys.stderr)


if __name__ == "__main__":
    main()
