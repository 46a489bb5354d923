"""Money beside every change: bills, credits and the guard rails that act on them.

``figures`` holds what the refresh reads (``Money``) and how amounts are shown;
``spend`` sums MiniMax bill rows exactly; ``read`` is the I/O that fills ``Money`` from
the providers; ``rails`` judges budgets, credit floors and unmanaged spenders (pure);
``usage`` builds the ``reconciler usage`` report. The planner, ``check`` and ``usage``
use them; nothing here prints.
"""
