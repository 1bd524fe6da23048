/** The product the dashboard shows unless the page's URL names another (`?product=`). */
export const DASHBOARD_PRODUCT = 'dashboard-roads';
