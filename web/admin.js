// The operator's dashboard (placeholder; the page's slice replaces it).
'use strict';
